//! An OCI bundle's config.json, mapped onto a sandbox.
//!
//! The rootfs is a grant at `/` (writable unless `root.readonly`), each bind mount a grant at its destination; the
//! gofer serves them, the view shows them read-only, as for `sentry exec`. tmpfs mounts are the sandbox's private
//! tmpfs; proc, /dev, devpts and /dev/shm are the sentry's own; sysfs is a read-only sysfs (masked). What the config
//! asks for that capvisor cannot honour is an error naming the field, never silently dropped; what it asks for that
//! capvisor's own layers supersede (capabilities: none are granted; a seccomp profile: every syscall is already
//! mediated) is accepted and said so in docs/kubernetes.md. Agent policy beyond OCI comes from `dev.capvisor.*`
//! annotations.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::policy::load::{lexical, Anchors, Builder, Overrides};
use crate::policy::Policy;
use crate::sandbox::init::ContainerPlan;

/// A bundle, ready to run.
#[derive(Debug)]
pub struct Prepared {
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub policy: Policy,
    pub program: CString,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    pub cwd: PathBuf,
    pub plan: ContainerPlan,
    pub rlimits: Vec<(nix::sys::resource::Resource, u64, u64)>,
    pub hidden: Vec<PathBuf>,
    pub sysfs: Option<PathBuf>,
    pub netns: Option<PathBuf>,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    pub hooks: Hooks,
    pub annotations: BTreeMap<String, String>,
    /// Record every trapped syscall, not only refusals (`dev.capvisor.audit: all`).
    pub audit_all: bool,
    pub platform: crate::platform::Choice,
    pub oci_version: String,
    /// linux.cgroupsPath, as a path below each hierarchy's root.
    pub cgroup_path: Option<PathBuf>,
    /// process.oomScoreAdj: the supervisor writes it for the container's process once it exists.
    pub oom_score_adj: Option<i32>,
    /// IPC and UTS namespaces to join (a pod's).
    pub join_ipc: Option<PathBuf>,
    pub join_uts: Option<PathBuf>,
    /// linux.resources.cpu, applied at cgroupsPath.
    pub cpu: Option<CpuLimits>,
}

/// linux.resources that are written at cgroupsPath.
#[derive(Debug, Clone, Default)]
pub struct CpuLimits {
    pub shares: Option<u64>,
    pub quota: Option<i64>,
    pub period: Option<u64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    /// memory.limit, memory.reservation and pids.limit, shown at cgroupsPath too (the budget cgroups below it
    /// enforce them as well).
    pub memory: Option<i64>,
    pub reservation: Option<i64>,
    pub pids: Option<i64>,
}

/// linux.cgroupsPath as a directory below each cgroup hierarchy's root. The cgroupfs form (`/a/b`) is taken as
/// written; the systemd form (`slice:prefix:name`, with --systemd-cgroup) is spelled out as systemd would place it
/// (`a-b.slice` → `a.slice/a-b.slice`, unit `prefix-name.scope`), made directly rather than through D-Bus. A relative
/// path is below the runtime's own cgroup in runc; capvisor puts it below the root (a supervisor lives in the shim's
/// cgroup, which is not the container's place).
pub fn cgroup_path(raw: &str, systemd: bool) -> Result<PathBuf, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    if systemd || (parts.len() == 3 && !raw.starts_with('/')) {
        let [slice, prefix, name] = parts.as_slice() else {
            return Err(format!(
                "cgroupsPath {raw:?}: want slice:prefix:name with --systemd-cgroup"
            ));
        };
        // Unit names are single path components: no `/`, no `..` (as systemd itself requires).
        for part in [slice, prefix, name] {
            if part.contains('/') || part.contains("..") || part.contains('\0') {
                return Err(format!(
                    "cgroupsPath {raw:?}: {part:?} is not a valid systemd unit name part"
                ));
            }
        }
        if name.is_empty() {
            return Err(format!("cgroupsPath {raw:?}: the unit name is empty"));
        }
        let slice = if slice.is_empty() {
            "system.slice"
        } else {
            slice
        };
        let mut p = PathBuf::from("/");
        if slice != "-.slice" {
            let stem = slice
                .strip_suffix(".slice")
                .ok_or_else(|| format!("cgroupsPath {raw:?}: {slice} is not a slice"))?;
            let mut acc = String::new();
            for part in stem.split('-') {
                if !acc.is_empty() {
                    acc.push('-');
                }
                acc.push_str(part);
                p.push(format!("{acc}.slice"));
            }
        }
        let unit = if name.ends_with(".slice") {
            (*name).to_string()
        } else if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        p.push(unit);
        return Ok(lexical(&p));
    }
    let p = lexical(Path::new(&format!("/{}", raw.trim_start_matches('/'))));
    if p == Path::new("/") {
        return Err(format!("cgroupsPath {raw:?} names the root cgroup"));
    }
    Ok(p)
}

/// One hook: what runc runs, with the state on stdin.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    pub timeout: Option<u64>,
}

/// The hooks, by the point of the life cycle they run at.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    #[serde(default)]
    pub prestart: Vec<Hook>,
    #[serde(default)]
    pub create_runtime: Vec<Hook>,
    #[serde(default)]
    pub create_container: Vec<Hook>,
    #[serde(default)]
    pub start_container: Vec<Hook>,
    #[serde(default)]
    pub poststart: Vec<Hook>,
    #[serde(default)]
    pub poststop: Vec<Hook>,
}

/// The annotations capvisor reads (documented in docs/kubernetes.md).
pub const ANNOTATIONS: &[(&str, &str)] = &[
    ("dev.capvisor.net", "network mode when the config gives the container a network namespace of its own: none (loopback only, the default) or sandbox (egress by the allow rules)"),
    ("dev.capvisor.allow-net", "egress rules, comma-separated, as `sentry exec --allow-net` (host:port, *.domain, CIDR, unix:PATH)"),
    ("dev.capvisor.deny", "paths refused inside the container, comma-separated, globs allowed (as --deny)"),
    ("dev.capvisor.limits", "budgets, comma-separated NAME=VALUE (as --limit: tasks, memory, cpu, wall, disk, files, egress)"),
    ("dev.capvisor.audit", "what the audit log records: denials (the default) or all (every trapped syscall); either way at most 64 MiB, in the node's audit directory"),
    ("dev.capvisor.platform", "seccomp (default where available), ptrace or auto"),
];

fn err(msg: impl Into<String>) -> String {
    msg.into()
}

/// Fields capvisor knows, per object; anything else is refused by name.
const TOP: &[&str] = &[
    "ociVersion",
    "process",
    "root",
    "hostname",
    "domainname",
    "mounts",
    "hooks",
    "annotations",
    "linux",
];
const PROCESS: &[&str] = &[
    "terminal",
    "consoleSize",
    "user",
    "args",
    "commandLine",
    "env",
    "cwd",
    "capabilities",
    "rlimits",
    "noNewPrivileges",
    "apparmorProfile",
    "oomScoreAdj",
    "selinuxLabel",
    "ioPriority",
    "scheduler",
    "execCPUAffinity",
];
const LINUX: &[&str] = &[
    "namespaces",
    "uidMappings",
    "gidMappings",
    "resources",
    "cgroupsPath",
    "sysctl",
    "seccomp",
    "rootfsPropagation",
    "maskedPaths",
    "readonlyPaths",
    "mountLabel",
    "devices",
];

fn check_fields(v: &serde_json::Value, known: &[&str], at: &str) -> Result<(), String> {
    if let Some(m) = v.as_object() {
        for k in m.keys() {
            if !known.contains(&k.as_str()) {
                return Err(format!("config.json: unknown or unsupported field {at}{k}"));
            }
        }
    }
    Ok(())
}

fn non_empty(v: Option<&serde_json::Value>) -> bool {
    match v {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        Some(serde_json::Value::Object(o)) => !o.is_empty(),
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

fn rlimit(name: &str) -> Option<nix::sys::resource::Resource> {
    use nix::sys::resource::Resource as R;
    Some(match name {
        "RLIMIT_CPU" => R::RLIMIT_CPU,
        "RLIMIT_FSIZE" => R::RLIMIT_FSIZE,
        "RLIMIT_DATA" => R::RLIMIT_DATA,
        "RLIMIT_STACK" => R::RLIMIT_STACK,
        "RLIMIT_CORE" => R::RLIMIT_CORE,
        "RLIMIT_RSS" => R::RLIMIT_RSS,
        "RLIMIT_NPROC" => R::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => R::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => R::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => R::RLIMIT_AS,
        "RLIMIT_LOCKS" => R::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => R::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => R::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => R::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => R::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => R::RLIMIT_RTTIME,
        _ => return None,
    })
}

fn cstrings(v: &[String], what: &str) -> Result<Vec<CString>, String> {
    v.iter()
        .map(|s| CString::new(s.as_bytes()).map_err(|_| format!("{what}: NUL in {s:?}")))
        .collect()
}

fn list(annotations: &BTreeMap<String, String>, key: &str) -> Vec<String> {
    annotations
        .get(key)
        .map(|v| {
            v.split([',', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Reads and maps `bundle/config.json`. Every refusal names the field.
pub fn load(bundle: &Path, systemd_cgroup: bool) -> Result<Prepared, String> {
    let bundle =
        std::fs::canonicalize(bundle).map_err(|e| format!("bundle {}: {e}", bundle.display()))?;
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let raw: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("config.json: {e}"))?;
    check_fields(&raw, TOP, "")?;
    if let Some(p) = raw.get("process") {
        check_fields(p, PROCESS, "process.")?;
    }
    if let Some(l) = raw.get("linux") {
        check_fields(l, LINUX, "linux.")?;
        if non_empty(l.get("devices")) {
            return Err(err("config.json: linux.devices is not supported: the sandbox's /dev holds only null, zero, full, random, urandom, tty and its own ptys"));
        }
    }
    if non_empty(raw.get("domainname")) {
        return Err(err("config.json: domainname is not supported"));
    }
    let spec: Spec =
        serde_json::from_value(raw.clone()).map_err(|e| format!("config.json: {e}"))?;
    let oci_version = spec.version().clone();
    if !oci_version.starts_with("1.") {
        return Err(format!(
            "config.json: ociVersion {oci_version:?} is not supported (1.x)"
        ));
    }
    let annotations: BTreeMap<String, String> = spec
        .annotations()
        .as_ref()
        .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    for k in annotations.keys() {
        if k.starts_with("dev.capvisor.") && !ANNOTATIONS.iter().any(|(n, _)| n == k) {
            return Err(format!(
                "config.json: unknown annotation {k} (known: {})",
                ANNOTATIONS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }

    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| err("config.json: process is required"))?;
    let args = process
        .args()
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| err("config.json: process.args must not be empty"))?;
    let cwd = process.cwd().clone();
    if !cwd.is_absolute() {
        return Err(format!(
            "config.json: process.cwd {:?} must be an absolute path",
            cwd.display()
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| err("config.json: root is required"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let rootfs_meta =
        std::fs::metadata(&rootfs).map_err(|e| format!("root.path {}: {e}", rootfs.display()))?;
    if !rootfs_meta.is_dir() {
        return Err(format!("root.path {}: not a directory", rootfs.display()));
    }
    let readonly = root.readonly().unwrap_or(false);

    let mut b = Builder::new(Anchors {
        cwd: cwd.clone(),
        home: None,
    })
    .for_sandbox_paths();
    let bad = |e: crate::policy::load::LoadError| e.to_string();
    b.mount(Path::new("/"), &rootfs, !readonly, true, "config.json root")
        .map_err(bad)?;

    let mut scratch: Vec<PathBuf> = Vec::new();
    let mut view_ro: Vec<PathBuf> = Vec::new();
    let mut sysfs = None;
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let dest = m.destination();
        if !dest.is_absolute() {
            return Err(format!(
                "config.json: mount destination {:?} must be absolute",
                dest.display()
            ));
        }
        let dest = lexical(dest);
        let opts = m.options().clone().unwrap_or_default();
        let has = |o: &str| opts.iter().any(|x| x == o);
        let typ = m.typ().clone().unwrap_or_default();
        let is_bind = typ == "bind" || has("bind") || has("rbind");
        if is_bind {
            let source = m.source().clone().ok_or_else(|| {
                format!(
                    "config.json: bind mount at {} has no source",
                    dest.display()
                )
            })?;
            let source = if source.is_absolute() {
                source
            } else {
                bundle.join(source)
            };
            if dest == Path::new("/") {
                return Err(err(
                    "config.json: a bind mount over / is not supported (use root.path)",
                ));
            }
            b.mount(
                &dest,
                &source,
                !has("ro"),
                !has("noexec"),
                "config.json mounts",
            )
            .map_err(bad)?;
            continue;
        }
        match (typ.as_str(), dest.to_str().unwrap_or("")) {
            ("proc", "/proc") | ("devpts", "/dev/pts") => {}
            ("tmpfs", "/dev") => {}
            ("tmpfs", _) => scratch.push(dest),
            ("sysfs", _) => {
                view_ro.push(dest.clone());
                sysfs = Some(dest);
            }
            // Directories that stay empty and read-only: no message queue can be opened (mq_open is refused) and
            // the sandbox's cgroups are not shown.
            ("mqueue", _) | ("cgroup", _) | ("cgroup2", _) => view_ro.push(dest),
            (t, d) => {
                return Err(format!(
                    "config.json: mount of type {t:?} at {d} is not supported (bind, tmpfs, proc, sysfs, devpts, mqueue and cgroup are)"
                ))
            }
        }
    }
    if !scratch.iter().any(|s| s == Path::new("/dev/shm")) {
        scratch.push(PathBuf::from("/dev/shm"));
    }

    let linux = spec.linux().clone().unwrap_or_default();
    let mut netns = None;
    let mut own_net = false;
    let mut join_ipc = None;
    let mut join_uts = None;
    for ns in linux.namespaces().as_deref().unwrap_or_default() {
        match (ns.typ(), ns.path()) {
            (LinuxNamespaceType::Network, Some(p)) => netns = Some(p.clone()),
            (LinuxNamespaceType::Network, None) => own_net = true,
            // A pod's IPC and UTS namespaces (CRI joins every app container to its pause container's).
            (LinuxNamespaceType::Ipc, Some(p)) => join_ipc = Some(p.clone()),
            (LinuxNamespaceType::Uts, Some(p)) => join_uts = Some(p.clone()),
            (LinuxNamespaceType::Time, _) => {
                return Err(err("config.json: a time namespace is not supported"))
            }
            (t, Some(p)) => {
                return Err(format!(
                    "config.json: joining an existing {t:?} namespace ({}) is not supported; only network, ipc and uts namespaces can be joined",
                    p.display()
                ))
            }
            // Every sandbox has its own pid, mount, ipc, uts, user and cgroup namespaces.
            (_, None) => {}
        }
    }
    for (what, maps) in [
        ("uidMappings", linux.uid_mappings()),
        ("gidMappings", linux.gid_mappings()),
    ] {
        for m in maps.as_deref().unwrap_or_default() {
            if m.host_id() != m.container_id() {
                return Err(format!(
                    "config.json: linux.{what} other than the identity are not supported (capvisor maps the sandbox's ids itself)"
                ));
            }
        }
    }
    if let Some(sysctl) = linux.sysctl() {
        if let Some(k) = sysctl.keys().next() {
            return Err(format!("config.json: linux.sysctl ({k}) is not supported"));
        }
    }

    let mut o = Overrides {
        deny: list(&annotations, "dev.capvisor.deny"),
        limit: list(&annotations, "dev.capvisor.limits"),
        allow_net: list(&annotations, "dev.capvisor.allow-net"),
        ..Default::default()
    };
    o.net = Some(if netns.is_some() || !own_net {
        // A joined (pod) namespace, or none of its own (the host's): the sentry performs every connect there, each
        // decided by the allow rules.
        "host".to_string()
    } else {
        annotations
            .get("dev.capvisor.net")
            .cloned()
            .unwrap_or_else(|| "none".into())
    });
    if let Some(res) = linux.resources() {
        if let Some(l) = res
            .memory()
            .as_ref()
            .and_then(|m| m.limit())
            .filter(|l| *l > 0)
        {
            o.limit.push(format!("memory={l}"));
        }
        if let Some(p) = res.pids().as_ref().map(|p| p.limit()).filter(|l| *l > 0) {
            o.limit.push(format!("tasks={p}"));
        }
    }
    for p in linux.readonly_paths().as_deref().unwrap_or_default() {
        // /proc and /sys are read-only in the sandbox already.
        if !(p.starts_with("/proc") || p.starts_with("/sys")) {
            b.deny(
                p,
                nix::errno::Errno::EROFS,
                crate::policy::DenyScope::Write,
                "readonlyPaths",
            )
            .map_err(bad)?;
        }
    }
    let hidden: Vec<PathBuf> = linux
        .masked_paths()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|p| lexical(Path::new(p)))
        .collect();
    // A masked path in the rootfs (not /proc or /sys, which the sentry serves) is also refused by rule: the gofer
    // holds the rootfs whole, and only a rule keeps it from serving what the view hides.
    for h in &hidden {
        if !(h.starts_with("/proc") || h.starts_with("/sys")) {
            b.deny(
                &h.to_string_lossy(),
                nix::errno::Errno::EACCES,
                crate::policy::DenyScope::All,
                "maskedPaths",
            )
            .map_err(bad)?;
        }
    }

    b.apply(&o).map_err(bad)?;
    let policy = b.build();
    let mut policy = policy;
    policy.scratch = scratch;
    policy.view_ro = view_ro;
    policy.tmp_size = policy.tmp_size.min(1 << 30);

    let user = process.user();
    let mut rlimits = Vec::new();
    for r in process.rlimits().as_deref().unwrap_or_default() {
        let name = serde_json::to_value(r.typ())
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let res = rlimit(&name)
            .ok_or_else(|| format!("config.json: process.rlimits: unknown type {name}"))?;
        rlimits.push((res, r.soft(), r.hard()));
    }
    let hooks: Hooks = match raw.get("hooks") {
        Some(h) => {
            serde_json::from_value(h.clone()).map_err(|e| format!("config.json: hooks: {e}"))?
        }
        None => Hooks::default(),
    };
    let res = linux.resources().clone().unwrap_or_default();
    let cpu = Some(CpuLimits {
        shares: res.cpu().as_ref().and_then(|c| c.shares()),
        quota: res.cpu().as_ref().and_then(|c| c.quota()),
        period: res.cpu().as_ref().and_then(|c| c.period()),
        cpus: res.cpu().as_ref().and_then(|c| c.cpus().clone()),
        mems: res.cpu().as_ref().and_then(|c| c.mems().clone()),
        memory: res
            .memory()
            .as_ref()
            .and_then(|m| m.limit())
            .filter(|l| *l > 0),
        reservation: res
            .memory()
            .as_ref()
            .and_then(|m| m.reservation())
            .filter(|l| *l > 0),
        pids: res.pids().as_ref().map(|p| p.limit()).filter(|l| *l > 0),
    });
    let cgroup_path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| cgroup_path(&p.to_string_lossy(), systemd_cgroup))
        .transpose()?;
    let platform = match annotations.get("dev.capvisor.platform").map(String::as_str) {
        None | Some("auto") => crate::platform::resolve(crate::platform::Choice::Auto),
        Some("seccomp") => crate::platform::Choice::Seccomp,
        Some("ptrace") => crate::platform::Choice::Ptrace,
        Some(other) => {
            return Err(format!(
                "config.json: dev.capvisor.platform {other:?}: use seccomp, ptrace or auto"
            ))
        }
    };
    let env = process.env().clone().unwrap_or_default();
    Ok(Prepared {
        bundle,
        rootfs,
        program: cstrings(&args[..1], "process.args")?
            .pop()
            .ok_or_else(|| err("config.json: process.args must not be empty"))?,
        argv: cstrings(&args, "process.args")?,
        env: cstrings(&env, "process.env")?,
        cwd,
        plan: ContainerPlan {
            hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
            hold: true,
            spawner: true,
            search_path: true,
            rlimits: rlimits.clone(),
        },
        rlimits,
        hidden,
        sysfs,
        netns,
        terminal: process.terminal().unwrap_or(false),
        console_size: process.console_size().as_ref().map(|b| {
            (
                u16::try_from(b.height()).unwrap_or(24),
                u16::try_from(b.width()).unwrap_or(80),
            )
        }),
        hooks,
        audit_all: match annotations.get("dev.capvisor.audit").map(String::as_str) {
            None | Some("denials") => false,
            Some("all") => true,
            Some(other) => {
                return Err(format!(
                    "config.json: dev.capvisor.audit {other:?}: use denials or all"
                ))
            }
        },
        annotations,
        platform,
        oci_version,
        policy,
        cgroup_path,
        join_ipc,
        join_uts,
        cpu,
        oom_score_adj: process.oom_score_adj(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_path_forms() {
        assert_eq!(
            cgroup_path("/default/c1", false).expect("fs"),
            Path::new("/default/c1")
        );
        assert_eq!(cgroup_path("k8s/../x", false).expect("fs"), Path::new("/x"));
        assert_eq!(
            cgroup_path("kubepods-besteffort-pod12.slice:cri-containerd:abc", true).expect("systemd"),
            Path::new("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-abc.scope")
        );
        assert_eq!(
            cgroup_path(":cri:abc", true).expect("default slice"),
            Path::new("/system.slice/cri-abc.scope")
        );
        assert!(cgroup_path("/", false).is_err());
        assert!(cgroup_path("a:b", true).is_err());
        assert!(cgroup_path("system.slice:rev:x/../../../tmp/e", true).is_err());
        assert!(cgroup_path("system.slice:rev:..", true).is_err());
        assert_eq!(
            cgroup_path("../../../../tmp/x", false).expect("clamped"),
            Path::new("/tmp/x")
        );
    }
}
