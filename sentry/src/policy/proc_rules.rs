//! What the sandbox may do under /proc. The VFS spells the caller's own process `/proc/self` (and its threads
//! `/proc/self/task/N`), so these rules can tell "mine" from "another process of the sandbox".
//!
//! Opens under /proc are performed by the sentry, which is privileged over the sandbox; these rules are what keeps
//! that privilege from being lent out (another process's `mem`, `environ`, fds, or the sandbox init's anything).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use super::Access;

/// Global entries any process may read.
const GLOBAL_READ: &[&str] = &[
    "cpuinfo",
    "meminfo",
    "stat",
    "uptime",
    "loadavg",
    "version",
    "filesystems",
    "mounts",
    "self",
    "thread-self",
    "cmdline",
    "devices",
    "diskstats",
    "partitions",
    "swaps",
    "vmstat",
    "zoneinfo",
    "buddyinfo",
    "crypto",
    "interrupts",
    "misc",
    "modules",
    "cgroups",
    "locks",
    "pressure",
    "sys",
    "net",
    "kallsyms",
];

/// Entries of another process of the sandbox that `ps`, `top` and `pgrep` need, and nothing more.
const OTHER_READ: &[&str] = &[
    "stat",
    "status",
    "statm",
    "cmdline",
    "comm",
    "task",
    "io",
    "sched",
    "schedstat",
    "wchan",
    "cgroup",
];

/// Writable entries of one's own process.
const SELF_WRITE: &[&str] = &[
    "comm",
    "oom_score_adj",
    "clear_refs",
    "attr",
    "timerslack_ns",
    "fd",
    "task",
];

fn rule(r: Result<(), Errno>, why: &str) -> Option<(Result<(), Errno>, String)> {
    Some((r, format!("proc: {why}")))
}

pub fn decide(access: Access, path: &Path) -> Option<(Result<(), Errno>, String)> {
    let rest = path.strip_prefix("/proc").ok()?;
    let mut comps = rest.iter().map(|c| c.as_bytes());
    let Some(first) = comps.next() else {
        return match access {
            Access::Lookup | Access::Read => rule(Ok(()), "directory"),
            Access::Write => rule(Err(Errno::EROFS), "directory"),
            Access::Exec | Access::Connect => rule(Err(Errno::EACCES), "directory"),
        };
    };
    if access == Access::Exec {
        // Executing /proc/self/exe is the one exec under /proc that programs do.
        return if rest.as_os_str().as_bytes() == b"self/exe" {
            rule(Ok(()), "own executable")
        } else {
            rule(Err(Errno::EACCES), "no exec under /proc")
        };
    }
    if first == b"self" {
        let second = comps.next();
        return match (access, second) {
            (Access::Lookup | Access::Read, Some(b"map_files")) => {
                rule(Err(Errno::EACCES), "map_files")
            }
            (Access::Lookup | Access::Read, _) => rule(Ok(()), "own process"),
            (Access::Write, Some(e)) if SELF_WRITE.iter().any(|w| w.as_bytes() == e) => {
                rule(Ok(()), "own process")
            }
            (Access::Write, Some(b"mem")) => rule(Ok(()), "own memory"),
            (Access::Write, _) => rule(Err(Errno::EACCES), "read-only entry"),
            (Access::Exec | Access::Connect, _) => rule(Err(Errno::EACCES), "no exec"),
        };
    }
    if first.iter().all(u8::is_ascii_digit) {
        let mut second = comps.next();
        // /proc/<pid>/task/<tid>/<entry> is judged by <entry>, like /proc/<pid>/<entry>.
        if second == Some(b"task") {
            match comps.next() {
                None => {
                    return rule(
                        if access == Access::Write {
                            Err(Errno::EACCES)
                        } else {
                            Ok(())
                        },
                        "task list",
                    )
                }
                Some(t) if t.iter().all(u8::is_ascii_digit) => second = comps.next(),
                Some(_) => return rule(Err(Errno::ENOENT), "no such task"),
            }
        }
        return match (access, second) {
            (Access::Lookup, None) => rule(Ok(()), "process directory"),
            (Access::Read, None) => rule(Ok(()), "process directory"),
            (Access::Lookup | Access::Read, Some(e))
                if OTHER_READ.iter().any(|w| w.as_bytes() == e) =>
            {
                rule(Ok(()), "another process: public entry")
            }
            _ => rule(Err(Errno::EACCES), "another process"),
        };
    }
    if GLOBAL_READ.iter().any(|w| w.as_bytes() == first) {
        return match access {
            Access::Lookup | Access::Read => rule(Ok(()), "global entry"),
            _ => rule(Err(Errno::EACCES), "global entry is read-only"),
        };
    }
    // kcore, kmsg, sysrq-trigger, kpage*, and whatever a newer kernel adds: not offered.
    rule(Err(Errno::EACCES), "not offered")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(a: Access, p: &str) -> Result<(), Errno> {
        decide(a, Path::new(p))
            .map(|x| x.0)
            .unwrap_or(Err(Errno::EINVAL))
    }

    #[test]
    fn decide_own_mem_is_allowed() {
        assert_eq!(d(Access::Write, "/proc/self/mem"), Ok(()));
    }

    #[test]
    fn decide_other_process_mem_is_denied() {
        assert_eq!(d(Access::Read, "/proc/1/mem"), Err(Errno::EACCES));
        assert_eq!(d(Access::Write, "/proc/7/mem"), Err(Errno::EACCES));
        assert_eq!(d(Access::Read, "/proc/7/environ"), Err(Errno::EACCES));
        assert_eq!(d(Access::Lookup, "/proc/7/root"), Err(Errno::EACCES));
    }

    #[test]
    fn decide_other_process_task_entries_judged_like_process_entries() {
        assert_eq!(d(Access::Read, "/proc/7/task/7/mem"), Err(Errno::EACCES));
        assert_eq!(
            d(Access::Read, "/proc/7/task/8/environ"),
            Err(Errno::EACCES)
        );
        assert_eq!(d(Access::Read, "/proc/7/task/7/status"), Ok(()));
        assert_eq!(d(Access::Read, "/proc/7/task"), Ok(()));
    }

    #[test]
    fn decide_other_process_status_is_readable() {
        assert_eq!(d(Access::Read, "/proc/7/status"), Ok(()));
    }

    #[test]
    fn decide_sensitive_globals_are_denied() {
        assert_eq!(d(Access::Read, "/proc/kcore"), Err(Errno::EACCES));
        assert_eq!(d(Access::Write, "/proc/sysrq-trigger"), Err(Errno::EACCES));
        assert_eq!(
            d(Access::Write, "/proc/sys/kernel/hostname"),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn decide_outside_proc_is_not_decided_here() {
        assert!(decide(Access::Read, Path::new("/etc/passwd")).is_none());
    }
}
