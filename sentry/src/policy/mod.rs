//! The one policy decision point: `Policy::check`.
//!
//! Every mediated operation asks here, with the canonical sandbox path the VFS resolved. No handler grants anything
//! on its own: the VFS, exec and the mounts take a `Granted` token, which only this module can build, so a missing
//! check is a compile error. The decision (and the rule that made it) is recorded on the caller's `Subject`; dispatch
//! writes it to the audit log with the syscall's result, in one record.

#![forbid(unsafe_code)]

pub mod approval;
pub mod limits;
pub mod load;
pub mod net_rules;
mod proc_rules;

use std::cell::RefCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

pub use load::{LoadError, PolicyFile};

/// What an operation needs from a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// See that it exists: stat, readlink, access(F_OK), chdir, O_PATH.
    Lookup,
    /// Read contents or list a directory.
    Read,
    /// Create, modify, remove, change metadata.
    Write,
    /// execve.
    Exec,
    /// Connect or send to a unix socket by path.
    Connect,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Lookup => "lookup",
            Access::Read => "read",
            Access::Write => "write",
            Access::Exec => "exec",
            Access::Connect => "connect",
        }
    }
}

/// One grant: a host path, bound in the sandbox at `path` (the same path, unless `source` names another), with its
/// modes. Every rule speaks of `path`; only the view and the gofer ever see `source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub path: PathBuf,
    /// The host path bound at `path` when it differs (an OCI bundle's rootfs at `/`, a bind mount's source).
    pub source: Option<PathBuf>,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    /// Where it came from: "default", a policy file, or a flag.
    pub origin: String,
}

impl Grant {
    /// The host path behind the grant.
    pub fn host(&self) -> &Path {
        self.source.as_deref().unwrap_or(&self.path)
    }

    pub fn mode(&self) -> String {
        format!(
            "{}{}{}",
            if self.read { "r" } else { "-" },
            if self.write { "w" } else { "-" },
            if self.exec { "x" } else { "-" }
        )
    }
}

/// Which accesses a deny rule refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyScope {
    All,
    Write,
}

/// A hole inside the grants.
#[derive(Clone, Debug)]
pub struct Deny {
    /// As written (after `~` and `.` expansion): shown in audit records.
    pub pattern: String,
    /// Matches the path itself and everything below it.
    matcher: globset::GlobSet,
    globs: Vec<globset::Glob>,
    /// A plain path (no glob characters): the mount view masks it too.
    pub literal: Option<PathBuf>,
    pub errno: Errno,
    pub scope: DenyScope,
}

/// A decision as recorded for the audit log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Decided {
    pub allow: bool,
    pub access: Access,
    pub path: String,
    pub rule: String,
    /// A network destination (the path is the destination): counted in the summary's destinations.
    #[serde(skip)]
    pub net: bool,
}

/// Who is asking: one trapped syscall of one task.
#[derive(Debug, Default)]
pub struct Subject {
    pub tid: i32,
    /// Filled in by `Policy::check`; read by dispatch for the audit record.
    pub decisions: RefCell<Vec<Decided>>,
}

/// Proof that `Policy::check` allowed an access. Only this module can make one.
#[derive(Debug)]
pub struct Granted {
    access: Access,
}

impl Granted {
    pub fn access(&self) -> Access {
        self.access
    }
}

/// The sandbox's whole policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub grants: Vec<Grant>,
    pub deny: Vec<Deny>,
    /// Bytes for the private /tmp and /dev/shm.
    pub tmp_size: u64,
    /// The sandbox paths served by the private tmpfs (writable, discarded at exit): /tmp and /dev/shm, or an OCI
    /// config's tmpfs mounts.
    pub scratch: Vec<PathBuf>,
    /// Read-only mounts of the sentry's own besides /proc and /dev (an OCI config's sysfs, mqueue, cgroup).
    pub view_ro: Vec<PathBuf>,
    pub env_pass: Vec<String>,
    pub env_set: Vec<(String, String)>,
    /// The sandbox has its own devpts (/dev/pts, /dev/ptmx): set by the sandbox that mounts one.
    pub ptys: bool,
    /// All deny rules as one matcher, built on first use.
    pub deny_set: std::sync::OnceLock<(globset::GlobSet, Vec<usize>)>,
    /// Budgets, approval mode, secret names (`policy::limits`).
    pub controls: limits::Controls,
    /// Network mode and egress rules.
    pub net: net_rules::NetPolicy,
    /// Names the sandbox's resolver handed out, by address: what `*.domain` rules are matched against.
    pub resolved: std::sync::Arc<net_rules::Resolved>,
}

/// The fixed part of the sandbox's namespace: not granted from the host, served by the sentry's own mounts.
pub const TMP_DIRS: &[&str] = &["/tmp", "/dev/shm"];
const DEV_RW: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

impl Policy {
    /// The one decision. `path` is the canonical sandbox path (symlinks resolved in the sandbox's view); under /proc,
    /// the caller's own process is spelled `/proc/self`.
    pub fn check(&self, who: &Subject, access: Access, path: &Path) -> Result<Granted, Errno> {
        let (mut result, mut rule) = self.decide(access, path);
        if result.is_ok()
            && access == Access::Write
            && !path.starts_with("/dev")
            && self.controls.usage.disk_exhausted()
        {
            // The disk budget is spent: what Linux gives a user over quota.
            result = Err(Errno::EDQUOT);
            rule = "budget disk exhausted".into();
        }
        if result.is_err() && access != Access::Lookup {
            if let Some(asker) = self.controls.asker.as_ref().filter(|a| a.asking) {
                if self.askable(&rule) {
                    if let Some(id) = asker.always_covers(access, path) {
                        result = Ok(());
                        rule = format!("approved always by answer {id} (over {rule})");
                    } else {
                        // Only this syscall waits: another worker leads the pool meanwhile.
                        crate::kernel::pool::handoff_current();
                        let a = asker.ask(who.tid, access, path, &rule);
                        if a.allow {
                            result = Ok(());
                            let always = if a.always { " always" } else { "" };
                            rule = format!("approved{always} by answer {} (over {rule})", a.id);
                        } else {
                            rule = format!("refused by answer {} ({}): {rule}", a.id, a.by);
                        }
                    }
                }
            }
        } else if result.is_err() && access == Access::Lookup {
            // A lookup of a path an `always` answer opened is part of that grant.
            if let Some(asker) = self.controls.asker.as_ref() {
                if self.askable(&rule) {
                    if let Some(id) = asker.always_covers(access, path) {
                        result = Ok(());
                        rule = format!("approved always by answer {id} (over {rule})");
                    }
                }
            }
        }
        who.decisions.borrow_mut().push(Decided {
            allow: result.is_ok(),
            access,
            path: path.to_string_lossy().into_owned(),
            rule,
            net: false,
        });
        result.map(|()| Granted { access })
    }

    /// May a refusal by `rule` be put to a controller? Only a deny rule whose matches the mount view still shows (a
    /// `**` glob, or a rule that refuses writes only): anything masked in the view, outside every grant, or refused by
    /// a fixed rule (/proc, /dev, unix sockets) could not be served by an approval anyway, so it is refused at once.
    fn askable(&self, rule: &str) -> bool {
        let Some(pattern) = rule.strip_prefix("deny ") else {
            return false;
        };
        self.deny.iter().any(|d| {
            d.pattern == pattern
                && (d.scope == DenyScope::Write
                    || (d.literal.is_none() && d.pattern.contains("**")))
        })
    }

    /// The one decision for a network destination (connect, sendto, sendmsg, bind): the names the sandbox's resolver
    /// gave for the address are added, the rules decide, and the decision is recorded like a path decision. A denial
    /// is `errno` (ECONNREFUSED for connect, EACCES for sends and binds; see the README).
    /// Returns the destination as decided (normalised, with its names) whatever the outcome, for the record.
    pub fn check_net(
        &self,
        who: &Subject,
        mut dest: net_rules::Dest,
        errno: Errno,
    ) -> (Result<net_rules::Route, Errno>, net_rules::Dest) {
        dest.ip = net_rules::canonical(dest.ip);
        dest.names = self.resolved.names_of(dest.ip);
        let (route, rule) = self.net.decide(&dest);
        who.decisions.borrow_mut().push(Decided {
            allow: route.is_some(),
            access: Access::Connect,
            path: dest.to_string(),
            rule,
            net: true,
        });
        (route.ok_or(errno), dest)
    }

    /// Records that a unix socket the sandbox bound itself is connected to: its own listener, so no `unix:` rule is
    /// needed (the path is still inside the view, and was decided as a creation when it was bound).
    pub fn allow_own_socket(&self, who: &Subject, path: &Path) {
        who.decisions.borrow_mut().push(Decided {
            allow: true,
            access: Access::Connect,
            path: path.to_string_lossy().into_owned(),
            rule: "the sandbox's own socket".into(),
            net: false,
        });
    }

    /// Records a refusal of a socket operation that has no destination to decide on (a privileged port bind, an
    /// abstract unix name in host mode), so it is audited like every other denial.
    pub fn refuse_net(&self, who: &Subject, what: String, rule: &str, errno: Errno) -> Errno {
        who.decisions.borrow_mut().push(Decided {
            allow: false,
            access: Access::Connect,
            path: what,
            rule: rule.into(),
            net: true,
        });
        errno
    }

    /// Pure decision: (result, the rule that decided).
    pub fn decide(&self, access: Access, path: &Path) -> (Result<(), Errno>, String) {
        // A unix socket by path reaches whatever process listens there, possibly on the host (a docker or containerd
        // socket). It follows the file grants: outside them it does not exist (ENOENT); in the private /tmp it is the
        // sandbox's own; inside a grant it is reachable only when an `--allow-net unix:PATH` rule names it (or a
        // directory above it), so a host daemon's socket (an ssh-agent's) is passed deliberately, never by accident
        // of a broad grant.
        if let Some(d) = proc_rules::decide(access, path) {
            return d;
        }
        if let Some(d) = self.decide_fixed(access, path) {
            return d;
        }
        // Outside every grant nothing exists, whatever deny rules say about it.
        if !self.grants.iter().any(|g| path.starts_with(&g.path)) && !self.is_view_skeleton(path) {
            return (Err(Errno::ENOENT), "not granted".into());
        }
        let (set, owner) = self.deny_set.get_or_init(|| {
            let mut b = globset::GlobSetBuilder::new();
            let mut owner = Vec::new();
            for (i, d) in self.deny.iter().enumerate() {
                for g in &d.globs {
                    b.add(g.clone());
                    owner.push(i);
                }
            }
            // Each glob was already compiled alone, so the set builds; an empty set matches nothing.
            (
                b.build().unwrap_or_else(|_| globset::GlobSet::empty()),
                owner,
            )
        });
        if !set.is_empty() {
            // The first rule (in policy order) that matches and applies to this access decides.
            let mut hits: Vec<usize> = set
                .matches(path)
                .into_iter()
                .filter_map(|g| owner.get(g).copied())
                .collect();
            hits.sort_unstable();
            for i in hits {
                let d = &self.deny[i];
                if d.scope == DenyScope::Write && access != Access::Write {
                    continue;
                }
                return (Err(d.errno), format!("deny {}", d.pattern));
            }
        }
        let grant = self
            .grants
            .iter()
            .filter(|g| path.starts_with(&g.path))
            .max_by_key(|g| g.path.as_os_str().len());
        let Some(g) = grant else {
            // Directories of the view that lead to a grant (/, /home, ...) exist, read-only and listing only grants.
            if self.is_view_skeleton(path) {
                return match access {
                    Access::Lookup | Access::Read => (Ok(()), "view".into()),
                    Access::Write => (Err(Errno::EROFS), "view is read-only".into()),
                    Access::Exec | Access::Connect => (Err(Errno::EACCES), "view".into()),
                };
            }
            return (Err(Errno::ENOENT), "not granted".into());
        };
        let rule = format!("grant {} {}", g.mode(), g.path.display());
        let ok = match access {
            Access::Lookup => true,
            Access::Read => g.read,
            Access::Write => g.write,
            Access::Exec => g.exec,
            Access::Connect => {
                return match self.net.unix.iter().find(|u| path.starts_with(u)) {
                    Some(u) => (Ok(()), format!("allow unix:{}", u.display())),
                    None => (
                        Err(Errno::EACCES),
                        format!("{rule}: a unix socket needs an --allow-net unix:PATH rule"),
                    ),
                };
            }
        };
        if ok {
            (Ok(()), rule)
        } else if access == Access::Write {
            (Err(Errno::EROFS), rule)
        } else {
            (Err(Errno::EACCES), rule)
        }
    }

    fn decide_fixed(&self, access: Access, path: &Path) -> Option<(Result<(), Errno>, String)> {
        for t in &self.scratch {
            // A grant inside the private tmpfs (a workspace under /tmp) is more specific: it decides.
            if path.starts_with(t)
                && !self
                    .grants
                    .iter()
                    .any(|g| path.starts_with(&g.path) && g.path.starts_with(t))
            {
                return Some((Ok(()), format!("private tmpfs {}", t.display())));
            }
        }
        for v in &self.view_ro {
            if path.starts_with(v) {
                let rule = format!("sentry mount {} (read-only)", v.display());
                return Some(match access {
                    Access::Lookup | Access::Read => (Ok(()), rule),
                    Access::Write => (Err(Errno::EROFS), rule),
                    Access::Exec | Access::Connect => (Err(Errno::EACCES), rule),
                });
            }
        }
        if path.starts_with("/dev") {
            let s = path.as_os_str().as_bytes();
            if s == b"/dev" {
                return Some(match access {
                    Access::Write => (Err(Errno::EROFS), "dev".into()),
                    Access::Exec | Access::Connect => (Err(Errno::EACCES), "dev".into()),
                    _ => (Ok(()), "dev".into()),
                });
            }
            if s == b"/dev/pts" && self.ptys {
                return Some(match access {
                    Access::Lookup | Access::Read => {
                        (Ok(()), "dev: the sandbox's own devpts".into())
                    }
                    Access::Write => (Err(Errno::EROFS), "dev".into()),
                    Access::Exec | Access::Connect => (Err(Errno::EACCES), "dev".into()),
                });
            }
            if matches!(
                s,
                b"/dev/fd" | b"/dev/stdin" | b"/dev/stdout" | b"/dev/stderr" | b"/dev/ptmx"
            ) && matches!(access, Access::Lookup | Access::Read)
            {
                // The links themselves; what they point at is judged on its own path.
                return Some((Ok(()), "dev: link".into()));
            }
            let is_pty = self.ptys && (s == b"/dev/ptmx" || s.starts_with(b"/dev/pts/"));
            if is_pty || DEV_RW.iter().any(|d| OsStr::new(d) == path.as_os_str()) {
                return Some(match access {
                    Access::Exec | Access::Connect => (Err(Errno::EACCES), "dev".into()),
                    _ => (Ok(()), "dev".into()),
                });
            }
            return Some((Err(Errno::ENOENT), "dev: not provided".into()));
        }
        None
    }

    fn is_view_skeleton(&self, path: &Path) -> bool {
        self.grants.iter().any(|g| g.path.starts_with(path))
            || self.scratch.iter().any(|t| t.starts_with(path))
            || self.view_ro.iter().any(|t| t.starts_with(path))
            || path == Path::new("/proc")
    }

    /// Would moving the directory `dir` (rename, or exchange) carry a hole of the policy along with it? True when a
    /// grant, a deny rule, or the start of a glob deny lies strictly below `dir`, or `dir` lies inside a glob deny's
    /// fixed prefix: the rules are path rules, so the subtree must not change its path. Callers answer EXDEV, which
    /// `mv` and friends handle by copying file by file, each copy decided on its own path.
    pub fn pins_subtree(&self, dir: &Path) -> bool {
        let below = |p: &Path| p.starts_with(dir) && p != dir;
        self.grants.iter().any(|g| below(&g.path))
            || self.deny.iter().any(|d| {
                let fixed = d.fixed_prefix();
                below(&fixed)
                    || (d.literal.is_none()
                        && dir.starts_with(&fixed)
                        && !d.pattern.starts_with("**"))
            })
    }

    /// Adds a deny rule after construction (the one-matcher cache is rebuilt on next use).
    pub fn add_deny(&mut self, d: Deny) {
        self.deny.push(d);
        self.deny_set = Default::default();
    }

    /// Does the read-only view show exactly what this policy lets the task read or look up? True when every deny
    /// rule is masked in it: no `**` glob (its matches cannot be listed at start-up) and no rule that hides existence
    /// with ENOENT (its mask would show that something is there). Then a read-only lookup or open may be checked and
    /// CONTINUEd: whatever a racing thread swaps in, the kernel resolves it in that view.
    pub fn view_is_exact(&self) -> bool {
        !self.has_unmasked_deny()
            && !self
                .deny
                .iter()
                .any(|d| d.scope == DenyScope::All && d.errno == Errno::ENOENT)
    }

    /// Is there a deny rule the mount view cannot mask (a `**` glob, whose matches cannot be listed at start-up)?
    /// Calls that can only be CONTINUEd (O_PATH of a symlink) are refused while one exists.
    pub fn has_unmasked_deny(&self) -> bool {
        self.deny
            .iter()
            .any(|d| d.scope == DenyScope::All && d.literal.is_none() && d.pattern.contains("**"))
    }

    /// Globs without `**`, to be expanded into masks at start-up (their matches are a bounded walk away).
    pub fn maskable_globs(&self) -> impl Iterator<Item = &Deny> {
        self.deny.iter().filter(|d| {
            d.scope == DenyScope::All && d.literal.is_none() && !d.pattern.contains("**")
        })
    }

    /// Literal deny paths: masked in the mount view as well as refused here.
    pub fn literal_denies(&self) -> impl Iterator<Item = &Path> {
        self.deny
            .iter()
            .filter(|d| d.scope == DenyScope::All)
            .filter_map(|d| d.literal.as_deref())
    }
}

impl Deny {
    /// A pattern with `*` or `?` is a glob; anything else is a literal path, matched exactly (so a file named
    /// `cfg[prod]` or `a,b` is not read as a glob). Either way it covers the path and everything below it.
    pub fn new(pattern: &str, errno: Errno, scope: DenyScope) -> Result<Self, globset::Error> {
        let is_glob = pattern.contains(['*', '?']);
        let literal = if is_glob {
            None
        } else {
            Some(PathBuf::from(pattern))
        };
        let trimmed = pattern.trim_end_matches('/');
        let base = if is_glob {
            trimmed.to_string()
        } else {
            globset::escape(trimmed)
        };
        let build = |p: &str| {
            globset::GlobBuilder::new(p)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
        };
        let globs = vec![build(&base)?, build(&format!("{base}/**"))?];
        let mut set = globset::GlobSetBuilder::new();
        for g in &globs {
            set.add(g.clone());
        }
        Ok(Self {
            pattern: pattern.to_string(),
            matcher: set.build()?,
            globs,
            literal,
            errno,
            scope,
        })
    }

    pub fn matches(&self, path: &Path) -> bool {
        self.matcher.is_match(path)
    }

    /// The part of the pattern before its first glob character: every match lies below it.
    pub fn fixed_prefix(&self) -> PathBuf {
        let cut = self.pattern.find(['*', '?']).unwrap_or(self.pattern.len());
        let head = &self.pattern[..cut];
        match head.rfind('/') {
            Some(i) if self.literal.is_none() => PathBuf::from(&head[..i.max(1)]),
            _ => PathBuf::from(head),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            grants: vec![
                Grant {
                    source: None,
                    path: "/usr".into(),
                    read: true,
                    write: false,
                    exec: true,
                    origin: "t".into(),
                },
                Grant {
                    source: None,
                    path: "/work/p".into(),
                    read: true,
                    write: true,
                    exec: true,
                    origin: "t".into(),
                },
                Grant {
                    source: None,
                    path: "/etc".into(),
                    read: true,
                    write: false,
                    exec: false,
                    origin: "t".into(),
                },
            ],
            deny: vec![
                Deny::new("/etc/shadow", Errno::EACCES, DenyScope::All).expect("glob"),
                Deny::new("**/.env", Errno::ENOENT, DenyScope::All).expect("glob"),
                Deny::new("/work/p/.git/hooks", Errno::EACCES, DenyScope::Write).expect("glob"),
            ],
            tmp_size: 1 << 20,
            scratch: TMP_DIRS.iter().map(PathBuf::from).collect(),
            view_ro: vec![],
            env_pass: vec![],
            env_set: vec![],
            ptys: false,
            deny_set: Default::default(),
            controls: Default::default(),
            net: Default::default(),
            resolved: Default::default(),
        }
    }

    fn d(p: &Policy, a: Access, path: &str) -> Result<(), Errno> {
        p.decide(a, Path::new(path)).0
    }

    #[test]
    fn decide_outside_grants_is_enoent() {
        assert_eq!(
            d(&policy(), Access::Read, "/home/u/secret"),
            Err(Errno::ENOENT)
        );
    }

    #[test]
    fn decide_write_under_readonly_grant_is_erofs() {
        assert_eq!(d(&policy(), Access::Write, "/usr/bin/x"), Err(Errno::EROFS));
    }

    #[test]
    fn decide_exec_under_read_grant_is_eacces() {
        assert_eq!(d(&policy(), Access::Exec, "/etc/x"), Err(Errno::EACCES));
        assert_eq!(d(&policy(), Access::Exec, "/usr/bin/x"), Ok(()));
    }

    #[test]
    fn decide_literal_deny_covers_path_and_below() {
        assert_eq!(
            d(&policy(), Access::Read, "/etc/shadow"),
            Err(Errno::EACCES)
        );
        assert_eq!(d(&policy(), Access::Read, "/etc/shadowx"), Ok(()));
    }

    #[test]
    fn decide_glob_deny_anywhere_with_rule_errno() {
        assert_eq!(
            d(&policy(), Access::Read, "/work/p/a/b/.env"),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            d(&policy(), Access::Lookup, "/work/p/.env"),
            Err(Errno::ENOENT)
        );
    }

    #[test]
    fn decide_write_scoped_deny_allows_read() {
        assert_eq!(
            d(&policy(), Access::Read, "/work/p/.git/hooks/pre-commit"),
            Ok(())
        );
        assert_eq!(
            d(&policy(), Access::Write, "/work/p/.git/hooks/pre-commit"),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn decide_view_skeleton_is_readable_not_writable() {
        assert_eq!(d(&policy(), Access::Read, "/"), Ok(()));
        assert_eq!(d(&policy(), Access::Lookup, "/work"), Ok(()));
        assert_eq!(
            d(&policy(), Access::Write, "/work/newfile"),
            Err(Errno::ENOENT)
        );
        assert_eq!(d(&policy(), Access::Write, "/work"), Err(Errno::EROFS));
    }

    #[test]
    fn decide_private_tmp_is_writable() {
        assert_eq!(d(&policy(), Access::Write, "/tmp/x"), Ok(()));
    }

    #[test]
    fn check_records_decision_for_audit() {
        let p = policy();
        let who = Subject::default();
        let r = p.check(&who, Access::Read, Path::new("/etc/shadow"));
        assert!(r.is_err());
        let recs = who.decisions.borrow();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].rule, "deny /etc/shadow");
        assert!(!recs[0].allow);
    }
}
