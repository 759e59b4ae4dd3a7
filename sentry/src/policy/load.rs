//! Policy files (TOML), the embedded default, and command-line adjustments.
//!
//! Errors name the file, the line and the key: a policy is security configuration, and a silently ignored typo is a
//! hole.

use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use serde::Deserialize;

use super::{Deny, DenyScope, Grant, Policy};

/// The embedded default policy.
pub const DEFAULT_POLICY: &str = include_str!("default.toml");

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read policy {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("policy {path}: {msg}")]
    Parse { path: String, msg: String },
    #[error("policy {origin}: grant {path}: {source}")]
    MissingPath {
        origin: String,
        path: String,
        source: std::io::Error,
    },
    #[error("policy {origin}: bad deny pattern {pattern:?}: {msg}")]
    BadGlob {
        origin: String,
        pattern: String,
        msg: String,
    },
    #[error("policy {origin}: unknown errno {name:?} (use EACCES, EPERM, ENOENT or EROFS)")]
    BadErrno { origin: String, name: String },
    #[error(
        "policy {origin}: bad size {value:?} (use a number of bytes with an optional K, M or G)"
    )]
    BadSize { origin: String, value: String },
    #[error("policy {origin}: path {path:?} must be absolute, or start with . or ~")]
    BadPath { origin: String, path: String },
    #[error("policy {origin}{}: {source}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    BadNetRule {
        origin: String,
        line: Option<usize>,
        source: super::net_rules::RuleError,
    },
    #[error("policy {origin}{}: {msg}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    BadNet {
        origin: String,
        line: Option<usize>,
        msg: String,
    },
}

/// The file format. Unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    #[serde(default)]
    pub filesystem: FsSection,
    #[serde(default)]
    pub env: EnvSection,
    /// Budgets (see `policy::limits`).
    #[serde(default)]
    pub limits: super::limits::LimitsSection,
    /// What to do with requests the policy does not grant.
    #[serde(default)]
    pub approval: super::limits::ApprovalSection,
    /// Secrets: NAME = "@FILE", put into the agent's environment only.
    #[serde(default)]
    pub secrets: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub network: NetSection,
    /// The text parsed, for line numbers of values checked after parsing (network rules).
    #[serde(skip)]
    text: String,
}

/// `[network]`: the mode and the egress allow rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetSection {
    /// "none" (default), "sandbox" or "host".
    pub mode: Option<toml::Spanned<String>>,
    /// Allow rules: `[tcp://|udp://]HOST:PORT`.
    #[serde(default)]
    pub allow: Vec<toml::Spanned<String>>,
    /// The upstream the sandbox's resolver forwards allowed names to, `IP:PORT` (default: the host's first
    /// nameserver in /etc/resolv.conf).
    pub dns_upstream: Option<toml::Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsSection {
    /// Read only.
    #[serde(default)]
    pub read: Vec<String>,
    /// Read, write (and execute: programs built in the workspace must run).
    #[serde(default)]
    pub write: Vec<String>,
    /// Read and execute.
    #[serde(default)]
    pub exec: Vec<String>,
    #[serde(default)]
    pub deny: Vec<DenyEntry>,
    pub tmp_size: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DenyEntry {
    Path(String),
    Rule(DenyRule),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyRule {
    pub path: String,
    /// The errno the agent sees: EACCES (default), EPERM, ENOENT (hide it), EROFS.
    pub errno: Option<String>,
    /// "all" (default) or "write".
    pub access: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSection {
    #[serde(default)]
    pub pass: Vec<String>,
    #[serde(default)]
    pub set: std::collections::BTreeMap<String, String>,
}

/// Where relative (`.`) and home (`~`) paths point.
#[derive(Clone, Debug)]
pub struct Anchors {
    pub cwd: PathBuf,
    pub home: Option<PathBuf>,
}

/// Command-line adjustments, applied after the files.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub ro: Vec<String>,
    pub rw: Vec<String>,
    pub deny: Vec<String>,
    pub env: Vec<String>,
    /// `--limit NAME=VALUE`.
    pub limit: Vec<String>,
    /// `--on-deny deny|ask`.
    pub on_deny: Option<String>,
    /// `--approval-timeout SECONDS`.
    pub approval_timeout: Option<String>,
    /// `--secret NAME=@FILE`.
    pub secret: Vec<String>,
    /// `--net MODE`.
    pub net: Option<String>,
    /// `--allow-net RULE`.
    pub allow_net: Vec<String>,
}

impl PolicyFile {
    pub fn parse(text: &str, origin: &str) -> Result<Self, LoadError> {
        let mut f: Self = toml::from_str(text).map_err(|e| LoadError::Parse {
            path: origin.to_string(),
            msg: describe_toml_error(text, &e),
        })?;
        f.text = text.to_string();
        Ok(f)
    }

    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }
}

/// "line 3, column 1: unknown field `grnts`, expected `filesystem` or `env`".
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            // A bad value: name the key it belongs to (`memory = "lots"` → memory).
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let lhs = before[line_start..].trim_end();
            let key = text.get(span.clone()).unwrap_or("").trim();
            if let Some(k) = lhs.strip_suffix('=') {
                let k = k.trim();
                if !k.is_empty() && k.len() <= 60 {
                    // The value too, when it is short: an inline table's bad field is only named there.
                    return if !key.is_empty() && key.len() <= 80 && key.contains(['{', '[']) {
                        format!("line {line}, column {col}, key `{k}` at `{key}`: {msg}")
                    } else {
                        format!("line {line}, column {col}, key `{k}`: {msg}")
                    };
                }
            }
            if key.is_empty() || key.len() > 60 {
                format!("line {line}, column {col}: {msg}")
            } else {
                format!("line {line}, column {col}, at `{key}`: {msg}")
            }
        }
        None => msg,
    }
}

/// Normalises `.`/`~`/absolute paths lexically (no symlinks followed: a grant names the path the user wrote).
pub fn expand(path: &str, anchors: &Anchors, origin: &str) -> Result<PathBuf, LoadError> {
    let raw = if path == "~" || path.starts_with("~/") {
        let home = anchors.home.clone().ok_or_else(|| LoadError::BadPath {
            origin: origin.into(),
            path: path.into(),
        })?;
        home.join(path.trim_start_matches('~').trim_start_matches('/'))
    } else if path.starts_with('/') || path.starts_with("**") {
        PathBuf::from(path)
    } else if path.starts_with('~') {
        return Err(LoadError::BadPath {
            origin: origin.into(),
            path: path.into(),
        });
    } else {
        anchors.cwd.join(path)
    };
    Ok(normalize(&raw))
}

/// Resolves symlinks in the longest existing prefix of `p` (up to its first glob character), so that grants and
/// deny rules name the paths the kernel reports: a home directory reached through a symlink must not leave its deny
/// rules behind. With `keep_last`, a final component that is itself a symlink is kept (a grant of /bin recreates the
/// /bin link in the view); a deny rule resolves it too, so it covers what the link points at.
pub fn canonical_prefix(p: &Path, keep_last: bool) -> PathBuf {
    let s = p.as_os_str().to_string_lossy().into_owned();
    let cut = s.find(['*', '?']).unwrap_or(s.len());
    let mut existing = PathBuf::from(&s[..cut]);
    while std::fs::symlink_metadata(&existing).is_err() {
        if !existing.pop() {
            return p.to_path_buf();
        }
    }
    let Ok(rest) = p.strip_prefix(&existing) else {
        return p.to_path_buf();
    };
    let (base, last) = match (
        keep_last && rest.as_os_str().is_empty(),
        existing.parent(),
        existing.file_name(),
    ) {
        (true, Some(parent), Some(name)) => (parent.to_path_buf(), Some(name.to_os_string())),
        _ => (existing.clone(), None),
    };
    let Ok(mut real) = std::fs::canonicalize(&base) else {
        return p.to_path_buf();
    };
    if let Some(n) = last {
        real.push(n);
    }
    if rest.as_os_str().is_empty() {
        real
    } else {
        real.join(rest)
    }
}

/// Lexical normalisation: drops `.`, applies `..`, no trailing slash.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

fn parse_errno(name: &str, origin: &str) -> Result<Errno, LoadError> {
    match name.to_ascii_uppercase().as_str() {
        "EACCES" => Ok(Errno::EACCES),
        "EPERM" => Ok(Errno::EPERM),
        "ENOENT" => Ok(Errno::ENOENT),
        "EROFS" => Ok(Errno::EROFS),
        _ => Err(LoadError::BadErrno {
            origin: origin.into(),
            name: name.into(),
        }),
    }
}

pub fn parse_size(v: &str, origin: &str) -> Result<u64, LoadError> {
    let bad = || LoadError::BadSize {
        origin: origin.into(),
        value: v.into(),
    };
    let t = v.trim();
    let (num, mul) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&t[..t.len() - 1], 1 << 20),
        Some('g' | 'G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|n| *n > 0)
        .ok_or_else(bad)
}

/// Builder: files and flags merged into one `Policy`.
#[derive(Debug)]
pub struct Builder {
    anchors: Anchors,
    grants: Vec<Grant>,
    deny: Vec<Deny>,
    tmp_size: u64,
    env_pass: Vec<String>,
    env_set: Vec<(String, String)>,
    controls: super::limits::Controls,
    net: super::net_rules::NetPolicy,
    /// Paths name the sandbox's own tree (an OCI rootfs), not the host's: normalised as written, never resolved
    /// against the host.
    sandbox_paths: bool,
}

/// `p` with `.` and `..` components and repeated slashes removed, without looking at any filesystem.
pub fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

impl Builder {
    /// Paths of rules are the sandbox's (an OCI container's): see `lexical`.
    pub fn for_sandbox_paths(mut self) -> Self {
        self.sandbox_paths = true;
        self
    }

    pub fn new(anchors: Anchors) -> Self {
        Self {
            anchors,
            grants: vec![],
            deny: vec![],
            tmp_size: 1 << 30,
            env_pass: vec![],
            env_set: vec![],
            controls: Default::default(),
            net: Default::default(),
            sandbox_paths: false,
        }
    }

    /// Adds a file's grants, denies and environment. Grants to paths that do not exist are skipped for the embedded
    /// default (a /lib32 that this machine lacks), and are errors anywhere else.
    pub fn add_file(
        &mut self,
        f: &PolicyFile,
        origin: &str,
        strict: bool,
    ) -> Result<(), LoadError> {
        let fs = &f.filesystem;
        for (list, r, w, x) in [
            (&fs.read, true, false, false),
            (&fs.write, true, true, true),
            (&fs.exec, true, false, true),
        ] {
            for p in list {
                self.grant(p, r, w, x, origin, strict)?;
            }
        }
        for d in &fs.deny {
            match d {
                DenyEntry::Path(p) => self.deny(p, Errno::EACCES, DenyScope::All, origin)?,
                DenyEntry::Rule(r) => {
                    let errno = r
                        .errno
                        .as_deref()
                        .map(|e| parse_errno(e, origin))
                        .transpose()?
                        .unwrap_or(Errno::EACCES);
                    let scope = match r.access.as_deref() {
                        None | Some("all") => DenyScope::All,
                        Some("write") => DenyScope::Write,
                        Some(other) => {
                            return Err(LoadError::Parse {
                                path: origin.into(),
                                msg: format!(
                                    "deny {:?}: access must be \"all\" or \"write\", not {other:?}",
                                    r.path
                                ),
                            })
                        }
                    };
                    self.deny(&r.path, errno, scope, origin)?;
                }
            }
        }
        if let Some(s) = &fs.tmp_size {
            self.tmp_size = parse_size(s, origin)?;
        }
        for p in &f.env.pass {
            if !self.env_pass.contains(p) {
                self.env_pass.push(p.clone());
            }
        }
        for (k, v) in &f.env.set {
            self.env_set.push((k.clone(), v.clone()));
        }
        let before = self.controls.limits.clone();
        f.limits.apply(&mut self.controls.limits);
        for name in super::limits::NAMES {
            if self.controls.limits.get(name) != before.get(name) {
                self.controls.limit_origin.insert(name, origin.to_string());
            }
        }
        if let Some(m) = &f.approval.mode {
            self.controls.approval.mode =
                super::limits::OnDeny::parse(m).map_err(|msg| LoadError::Parse {
                    path: origin.into(),
                    msg: format!("[approval] mode: {msg}"),
                })?;
        }
        if let Some(t) = &f.approval.timeout {
            self.controls.approval.timeout =
                std::time::Duration::from_secs(t.0.unwrap_or(u64::MAX / 4));
        }
        for (name, source) in &f.secrets {
            self.secret(name, source, origin)?;
        }
        self.add_network(f, origin)
    }

    /// A secret NAME from `@FILE` (the value is read when the sandbox starts, never by `policy explain`).
    pub fn secret(&mut self, name: &str, source: &str, origin: &str) -> Result<(), LoadError> {
        let bad = |msg: String| LoadError::Parse {
            path: origin.into(),
            msg,
        };
        let valid_name = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(bad(format!(
                "secret {name:?}: the name must be an environment variable name (letters, digits, _)"
            )));
        }
        let Some(file) = source.strip_prefix('@') else {
            return Err(bad(format!(
                "secret {name}: the value must be @FILE (a file holding it), so that it never appears on a command line or in a policy"
            )));
        };
        let path = expand(file, &self.anchors, origin)?;
        self.controls.secrets.retain(|(n, _)| n != name);
        self.controls
            .secrets
            .push((name.to_string(), path.to_string_lossy().into_owned()));
        Ok(())
    }

    fn add_network(&mut self, f: &PolicyFile, origin: &str) -> Result<(), LoadError> {
        use super::net_rules::{Mode, Rule};
        let line = |span: std::ops::Range<usize>| {
            Some(
                f.text
                    .get(..span.start)
                    .map_or(0, |b| b.matches('\n').count())
                    + 1,
            )
        };
        let n = &f.network;
        if let Some(m) = &n.mode {
            self.net.mode = Mode::parse(m.get_ref()).ok_or_else(|| LoadError::BadNet {
                origin: origin.into(),
                line: line(m.span()),
                msg: format!(
                    "network mode {:?}: use \"none\", \"sandbox\" or \"host\"",
                    m.get_ref()
                ),
            })?;
        }
        for r in &n.allow {
            if let Some(path) = r.get_ref().strip_prefix("unix:") {
                let p = canonical_prefix(&expand(path, &self.anchors, origin)?, false);
                self.net.unix.push(p);
                continue;
            }
            let rule = Rule::parse(r.get_ref()).map_err(|source| LoadError::BadNetRule {
                origin: origin.into(),
                line: line(r.span()),
                source,
            })?;
            self.net.rules.push(rule);
        }
        if let Some(u) = &n.dns_upstream {
            self.net.dns_upstream = Some(u.get_ref().parse().map_err(|_| LoadError::BadNet {
                origin: origin.into(),
                line: line(u.span()),
                msg: format!("dns_upstream {:?}: use IP:PORT", u.get_ref()),
            })?);
        }
        Ok(())
    }

    pub fn grant(
        &mut self,
        p: &str,
        read: bool,
        write: bool,
        exec: bool,
        origin: &str,
        strict: bool,
    ) -> Result<(), LoadError> {
        let path = canonical_prefix(&expand(p, &self.anchors, origin)?, true);
        if path == Path::new("/tmp") || path == Path::new("/dev/shm") {
            // The sandbox's own private tmpfs lives there; the host's cannot be bound over it (a directory below it can).
            return Err(LoadError::Parse {
                path: origin.into(),
                msg: format!(
                    "{} cannot be granted: it is the sandbox's private tmpfs (grant a directory below it, e.g. run from {}/work)",
                    path.display(),
                    path.display()
                ),
            });
        }
        if let Err(source) = std::fs::symlink_metadata(&path) {
            if strict {
                return Err(LoadError::MissingPath {
                    origin: origin.into(),
                    path: path.display().to_string(),
                    source,
                });
            }
            return Ok(());
        }
        if let Some(g) = self.grants.iter_mut().find(|g| g.path == path) {
            g.read |= read;
            g.write |= write;
            g.exec |= exec;
            return Ok(());
        }
        self.grants.push(Grant {
            path,
            source: None,
            read,
            write,
            exec,
            origin: origin.into(),
        });
        Ok(())
    }

    /// A grant whose host source differs from its sandbox path (an OCI rootfs or bind mount). The source must exist;
    /// it is made canonical (no symlink left for the view to refuse). A later mount at the same path replaces an
    /// earlier one, as mounts stack.
    pub fn mount(
        &mut self,
        dest: &Path,
        source: &Path,
        write: bool,
        exec: bool,
        origin: &str,
    ) -> Result<(), LoadError> {
        let source = std::fs::canonicalize(source).map_err(|e| LoadError::MissingPath {
            origin: origin.into(),
            path: source.display().to_string(),
            source: e,
        })?;
        let path = lexical(dest);
        self.grants.retain(|g| g.path != path);
        self.grants.push(Grant {
            path,
            source: Some(source),
            read: true,
            write,
            exec,
            origin: origin.into(),
        });
        Ok(())
    }

    pub fn deny(
        &mut self,
        p: &str,
        errno: Errno,
        scope: DenyScope,
        origin: &str,
    ) -> Result<(), LoadError> {
        let expanded = expand(p, &self.anchors, origin)?;
        let pattern = if self.sandbox_paths {
            // Globs survive: `lexical` only drops `.`, `..` and repeated slashes.
            if expanded.is_absolute() {
                lexical(&expanded)
            } else {
                expanded
            }
        } else {
            canonical_prefix(&expanded, false)
        };
        let pattern = pattern.to_string_lossy().into_owned();
        let d = Deny::new(&pattern, errno, scope).map_err(|e| LoadError::BadGlob {
            origin: origin.into(),
            pattern: p.into(),
            msg: e.kind().to_string(),
        })?;
        self.deny.push(d);
        Ok(())
    }

    pub fn apply(&mut self, o: &Overrides) -> Result<(), LoadError> {
        for p in &o.ro {
            self.grant(p, true, false, true, "--ro", true)?;
        }
        for p in &o.rw {
            self.grant(p, true, true, true, "--rw", true)?;
        }
        for p in &o.deny {
            self.deny(p, Errno::EACCES, DenyScope::All, "--deny")?;
        }
        for l in &o.limit {
            let bad = |msg: String| LoadError::Parse {
                path: "--limit".into(),
                msg,
            };
            let (name, value) = l
                .split_once('=')
                .ok_or_else(|| bad(format!("{l:?}: want NAME=VALUE")))?;
            let v = super::limits::parse_value(name.trim(), value)
                .map_err(|m| bad(format!("{}: {m}", name.trim())))?;
            self.controls.limits.set(name.trim(), v).map_err(bad)?;
            if let Some(n) = super::limits::NAMES.iter().find(|n| **n == name.trim()) {
                self.controls.limit_origin.insert(n, "--limit".into());
            }
        }
        if let Some(m) = &o.on_deny {
            self.controls.approval.mode =
                super::limits::OnDeny::parse(m).map_err(|msg| LoadError::Parse {
                    path: "--on-deny".into(),
                    msg,
                })?;
        }
        if let Some(t) = &o.approval_timeout {
            let secs = super::limits::parse_value("wall", t)
                .map_err(|msg| LoadError::Parse {
                    path: "--approval-timeout".into(),
                    msg,
                })?
                .unwrap_or(u64::MAX / 4);
            self.controls.approval.timeout = std::time::Duration::from_secs(secs);
        }
        for s in &o.secret {
            let (name, source) = s.split_once('=').ok_or_else(|| LoadError::Parse {
                path: "--secret".into(),
                msg: format!("{s:?}: want NAME=@FILE"),
            })?;
            self.secret(name, source, "--secret")?;
        }
        if let Some(m) = &o.net {
            self.net.mode = super::net_rules::Mode::parse(m).ok_or_else(|| LoadError::BadNet {
                origin: "--net".into(),
                line: None,
                msg: format!("{m:?}: use none, sandbox or host"),
            })?;
        }
        for r in &o.allow_net {
            if let Some(path) = r.strip_prefix("unix:") {
                let p = canonical_prefix(&expand(path, &self.anchors, "--allow-net")?, false);
                self.net.unix.push(p);
                continue;
            }
            let rule =
                super::net_rules::Rule::parse(r).map_err(|source| LoadError::BadNetRule {
                    origin: "--allow-net".into(),
                    line: None,
                    source,
                })?;
            self.net.rules.push(rule);
        }
        Ok(())
    }

    pub fn build(mut self) -> Policy {
        self.grants.sort_by(|a, b| a.path.cmp(&b.path));
        Policy {
            grants: self.grants,
            deny: self.deny,
            tmp_size: self.tmp_size,
            scratch: super::TMP_DIRS.iter().map(PathBuf::from).collect(),
            view_ro: vec![],
            env_pass: self.env_pass,
            env_set: self.env_set,
            ptys: false,
            deny_set: Default::default(),
            controls: self.controls,
            net: self.net,
            resolved: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchors() -> Anchors {
        Anchors {
            cwd: PathBuf::from("/usr/share"),
            home: Some(PathBuf::from("/root")),
        }
    }

    #[test]
    fn parse_unknown_key_names_line_and_key() {
        let e = PolicyFile::parse("[filesystem]\nread = []\nwrtie = [\"/x\"]\n", "p.toml")
            .expect_err("must fail");
        let s = e.to_string();
        assert!(s.contains("p.toml"), "{s}");
        assert!(s.contains("line 3"), "{s}");
        assert!(s.contains("wrtie"), "{s}");
    }

    #[test]
    fn parse_default_policy_is_valid() {
        let f = PolicyFile::parse(DEFAULT_POLICY, "default").expect("default parses");
        let mut b = Builder::new(anchors());
        b.add_file(&f, "default", false).expect("default builds");
        let p = b.build();
        assert!(p
            .grants
            .iter()
            .any(|g| g.path == Path::new("/usr") && g.exec && !g.write));
        assert!(p
            .grants
            .iter()
            .any(|g| g.path == Path::new("/usr/share") && g.write));
    }

    #[test]
    fn grant_missing_path_strict_is_error() {
        let mut b = Builder::new(anchors());
        let e = b
            .grant("/does/not/exist", true, false, false, "--ro", true)
            .expect_err("missing");
        assert!(e.to_string().contains("/does/not/exist"));
    }

    #[test]
    fn deny_bad_glob_is_error() {
        let mut b = Builder::new(anchors());
        assert!(matches!(
            b.deny("/x/*[", Errno::EACCES, DenyScope::All, "t"),
            Err(LoadError::BadGlob { .. })
        ));
        // Without * or ?, brackets and commas are part of a literal name, not glob syntax.
        assert!(b
            .deny("/x/cfg[prod],a", Errno::EACCES, DenyScope::All, "t")
            .is_ok());
    }

    #[test]
    fn expand_relative_and_home() {
        assert_eq!(
            expand(".", &anchors(), "t").expect("ok"),
            PathBuf::from("/usr/share")
        );
        assert_eq!(
            expand("~/.ssh", &anchors(), "t").expect("ok"),
            PathBuf::from("/root/.ssh")
        );
        assert_eq!(
            expand("/a/./b/../c", &anchors(), "t").expect("ok"),
            PathBuf::from("/a/c")
        );
    }

    #[test]
    fn network_bad_rule_names_rule_file_and_line() {
        let f = PolicyFile::parse(
            "[network]\nmode = \"sandbox\"\nallow = [\n  \"example.com:443\",\n  \"example.com:http\",\n]\n",
            "p.toml",
        )
        .expect("parses");
        let mut b = Builder::new(anchors());
        let e = b.add_file(&f, "p.toml", true).expect_err("bad rule");
        let s = e.to_string();
        assert!(s.contains("p.toml, line 5"), "{s}");
        assert!(s.contains("example.com:http"), "{s}");
    }

    #[test]
    fn network_section_builds_rules_and_mode() {
        let f = PolicyFile::parse(
            "[network]\nmode = \"sandbox\"\nallow = [\"*.example.com:443\"]\ndns_upstream = \"127.0.0.1:5353\"\n",
            "p.toml",
        )
        .expect("parses");
        let mut b = Builder::new(anchors());
        b.add_file(&f, "p.toml", true).expect("builds");
        let p = b.build();
        assert_eq!(p.net.mode, super::super::net_rules::Mode::Sandbox);
        assert_eq!(p.net.rules.len(), 1);
        assert!(p.net.dns_upstream.is_some());
    }

    #[test]
    fn parse_size_units() {
        assert_eq!(parse_size("1G", "t").expect("ok"), 1 << 30);
        assert_eq!(parse_size("64m", "t").expect("ok"), 64 << 20);
        assert!(parse_size("x", "t").is_err());
        assert!(parse_size("0", "t").is_err());
    }
}
