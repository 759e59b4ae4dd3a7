//! The list of every case, in family order.
#![forbid(unsafe_code)]

use crate::case::Case;
use crate::cases;

/// Every case of the corpus (self-tests included; the runner filters them).
pub fn all() -> Vec<&'static Case> {
    let families: [&'static [Case]; 20] = [
        cases::fs::CASES,
        cases::fs_dir::CASES,
        cases::fs_io::CASES,
        cases::links::CASES,
        cases::perm::CASES,
        cases::fd::CASES,
        cases::pipe::CASES,
        cases::socket::CASES,
        cases::poll::CASES,
        cases::signal::CASES,
        cases::process::CASES,
        cases::process_sched::CASES,
        cases::thread::CASES,
        cases::mm::CASES,
        cases::ipc::CASES,
        cases::time::CASES,
        cases::ident::CASES,
        cases::procfs::CASES,
        cases::denied::CASES,
        cases::selftest::CASES,
    ];
    families.iter().flat_map(|f| f.iter()).collect()
}

/// The case named `name`.
pub fn find(name: &str) -> Option<&'static Case> {
    all().into_iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn registry_names_unique_and_prefixed_by_family() {
        let mut seen = HashSet::new();
        for c in all() {
            assert!(seen.insert(c.name), "duplicate case {}", c.name);
            assert!(c.name.contains('.'), "case {} has no family prefix", c.name);
            assert!(
                c.kind == crate::case::Kind::SelfTest || !c.syscalls.is_empty(),
                "case {} names no syscall",
                c.name
            );
        }
    }
}
