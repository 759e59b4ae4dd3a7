//! Layer 1's Landlock rules, mirroring the grants, applied by the agent to itself just before the seccomp filter.
//!
//! Every path the agent opens is opened by the sentry, so these rules bind only what the kernel does in the agent's
//! own context: execve (the program, its ELF interpreter, a script's interpreter) and any path syscall that reached the
//! kernel by mistake. Writes are allowed nowhere (the sentry performs them), exec only under exec grants and the private
//! tmpfs. Where the kernel has no Landlock, the rules are skipped: the mount view and the sentry still apply.

#![forbid(unsafe_code)]

use std::path::Path;

use landlock::{
    make_bitflags, AccessFs, BitFlags, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, ABI,
};

use super::init::Plan;

/// The newest ABI this code was written against; older kernels get the subset they support (best effort).
const TARGET: ABI = ABI::V5;

fn rule(path: &Path, access: BitFlags<AccessFs>) -> Option<PathBeneath<PathFd>> {
    // A path the view lacks (a grant whose mountpoint could not be made) simply gets no rule.
    PathFd::new(path)
        .ok()
        .map(|fd| PathBeneath::new(fd, access))
}

/// Restricts the calling process. Returns whether the kernel enforces the rules.
pub fn restrict(plan: &Plan) -> Result<bool, String> {
    let read = make_bitflags!(AccessFs::{ReadFile | ReadDir});
    let exec = read | AccessFs::Execute;
    let mut rules: Vec<PathBeneath<PathFd>> = Vec::new();
    for b in plan.binds.iter().filter(|b| b.symlink.is_none()) {
        rules.extend(rule(&b.path, if b.exec { exec } else { read }));
    }
    for t in &plan.scratch {
        rules.extend(rule(t, exec));
    }
    rules.extend(rule(Path::new("/proc"), read));
    if let Some(p) = &plan.sysfs {
        rules.extend(rule(p, read));
    }
    // Device ioctls (TCGETS on a pty the agent opened itself): only the sandbox's own devices live under /dev.
    rules.extend(rule(Path::new("/dev"), read | AccessFs::IoctlDev));
    rules.extend(rule(Path::new("/"), make_bitflags!(AccessFs::{ReadDir})));
    let status = Ruleset::default()
        // Reads, exec and device ioctls only: writes are refused by the read-only mounts themselves, and handling the
        // write rights too would also refuse files the kernel makes outside any path (POSIX message queues).
        .handle_access(AccessFs::from_read(TARGET) | AccessFs::IoctlDev)
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(rules.into_iter().map(Ok::<_, landlock::RulesetError>)))
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("landlock: {e}"))?;
    Ok(status.ruleset != landlock::RulesetStatus::NotEnforced)
}
