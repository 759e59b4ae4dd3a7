//! The command line: `sentry exec`, `sentry syscalls`, `sentry policy explain`.
//!
//! Exit codes: the program's own (128+N when killed by signal N); 2 usage error; 3 bad policy (malformed,
//! unreadable, a grant that does not exist); 125 the sandbox could not be set up; 126 the program cannot be executed
//! under the policy; 127 the program was not found.

#![forbid(unsafe_code)]

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::audit::Audit;
use crate::policy::load::{Anchors, Builder, Overrides, PolicyFile, DEFAULT_POLICY};
use crate::policy::{Access, Policy};
use crate::sandbox::{self, Spec};
use crate::syscalls::{table::TABLE, Support};

pub const EXIT_USAGE: i32 = 2;
pub const EXIT_POLICY: i32 = 3;
pub const EXIT_SETUP: i32 = 125;
pub const EXIT_NOEXEC: i32 = 126;
pub const EXIT_NOTFOUND: i32 = 127;

#[derive(Parser, Debug)]
#[command(
    name = "sentry",
    version,
    about = "capvisor: run AI agents and everything they start under capability control"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a program in a fresh sandbox: `sentry exec [OPTIONS] -- CMD [ARGS...]`.
    Exec(Box<ExecArgs>),
    /// Print THE syscall table: every x86_64 syscall, its disposition and why.
    Syscalls {
        /// One JSON object per syscall.
        #[arg(long)]
        json: bool,
    },
    /// Inspect a policy.
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
    /// Answer a pending question of a sandbox run with `--on-deny ask --control PATH`: allow it.
    Approve(AnswerArgs),
    /// Answer a pending question: refuse it.
    Deny(AnswerArgs),
}

#[derive(Args, Debug)]
struct AnswerArgs {
    /// The question's id (from the control socket's `question` message or the audit log).
    id: u64,
    /// The sandbox's control socket (default: $SENTRY_CONTROL).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// (approve only) Allow this access to this path for the rest of the run, without asking again.
    #[arg(long)]
    always: bool,
}

#[derive(Subcommand, Debug)]
enum PolicyCmd {
    /// Print the effective grants, the holes in them, and what is provably excluded.
    Explain(Box<PolicyArgs>),
}

#[derive(Args, Debug, Clone)]
struct PolicyArgs {
    /// A policy file (TOML), applied on top of the embedded default (or of nothing, with --no-default).
    #[arg(long, value_name = "FILE")]
    policy: Vec<PathBuf>,
    /// Grant PATH read and execute.
    #[arg(long, value_name = "PATH")]
    ro: Vec<String>,
    /// Grant PATH read, write and execute.
    #[arg(long, value_name = "PATH")]
    rw: Vec<String>,
    /// Deny PATH (and everything below it) inside the grants; globs such as '**/.env' are allowed.
    #[arg(long, value_name = "PATH")]
    deny: Vec<String>,
    /// Start from an empty policy instead of the embedded default.
    #[arg(long)]
    no_default: bool,
    /// Set a budget: tasks, memory, cpu, wall, disk, files or egress (e.g. memory=512M, cpu=30s, tasks=256, wall=none).
    #[arg(long, value_name = "NAME=VALUE")]
    limit: Vec<String>,
    /// What to do with a request the policy does not grant: deny (default) or ask a controller.
    #[arg(long, value_name = "deny|ask")]
    on_deny: Option<String>,
    /// How long a question waits for an answer before it counts as a refusal (default 60s).
    #[arg(long, value_name = "SECONDS")]
    approval_timeout: Option<String>,
    /// Put the contents of FILE into the agent's environment as NAME (redacted from the audit log and --strace).
    #[arg(long, value_name = "NAME=@FILE")]
    secret: Vec<String>,
    /// Network mode: none (only the sandbox's own loopback; the default), sandbox (egress mediated by the sentry,
    /// by the allow rules) or host (the host's network namespace, every connect decided by the allow rules).
    #[arg(long, value_name = "MODE")]
    net: Option<String>,
    /// Allow egress to [tcp://|udp://]HOST:PORT (HOST: a name, *.domain, an address, a CIDR, or host.loopback;
    /// PORT: a number, LO-HI or *). Repeatable.
    #[arg(long = "allow-net", value_name = "RULE")]
    allow_net: Vec<String>,
}

#[derive(Args, Debug)]
struct ExecArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// The starting directory inside the sandbox (default: the current directory).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Pass NAME from the caller's environment, or set NAME=VALUE.
    #[arg(long, value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Append one JSON record per mediated syscall to FILE.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Print counts of mediated syscalls (allowed, denied, failed) at exit.
    #[arg(long)]
    audit_summary: bool,
    /// Print each mediated syscall to stderr as it is answered.
    #[arg(long)]
    strace: bool,
    /// How syscalls are caught: seccomp user-notify, ptrace, or auto (seccomp where the kernel offers user-notify
    /// with ADDFD, Linux 5.14+; ptrace otherwise).
    #[arg(long, value_enum, default_value_t = crate::platform::Choice::Auto)]
    platform: crate::platform::Choice,
    /// A control socket for this sandbox (JSON lines; see README): approval questions and answers.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// (set by a parent sentry for a delegated child) this sandbox's id.
    #[arg(long, hide = true)]
    sandbox_id: Option<String>,
    /// (set by a parent sentry) the sandbox that delegated this one.
    #[arg(long, hide = true)]
    parent: Option<String>,
    /// (set by a parent sentry) make this sandbox's cgroups inside the parent sandbox's.
    #[arg(long, hide = true)]
    cgroup_parent: Vec<PathBuf>,
    /// (set by a parent sentry) MODE:PATH of each of the parent's grants: every grant of this sandbox must lie
    /// inside one with no more modes, checked after the policy is resolved.
    #[arg(long, hide = true)]
    within: Vec<String>,
    /// The program and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    cmd: Vec<OsString>,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // runc's commands and global flags: the OCI runtime (see `crate::oci`).
    if crate::oci::wants(&args) {
        return crate::oci::main(args);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help, --version.
            let _ = e.print();
            return 0;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Bare `sentry`: the usage, on stderr.
            eprint!("{}", e.render());
            return EXIT_USAGE;
        }
        Err(e) => {
            // One line: clap's first line (and the argument it names on the next), without its "error: " prefix.
            let text = e.render().to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ")
                .to_string();
            let first = if first.ends_with(':') {
                format!("{first} {}", lines.next().unwrap_or(""))
            } else {
                first
            };
            eprintln!("sentry: {first} (see sentry --help)");
            return EXIT_USAGE;
        }
    };
    match cli.cmd {
        Cmd::Exec(a) => exec(*a),
        Cmd::Syscalls { json } => {
            print_table(json);
            0
        }
        Cmd::Approve(a) => answer(&a, true),
        Cmd::Deny(a) => answer(&a, false),
        Cmd::Policy {
            cmd: PolicyCmd::Explain(a),
        } => match build_policy(&a, &anchors()) {
            Ok(p) => {
                print!("{}", explain(&p));
                0
            }
            Err(code) => code,
        },
    }
}

/// `sentry approve` / `sentry deny`: 0 when the sentry took the answer, 1 when it refused it (no such question).
fn answer(a: &AnswerArgs, allow: bool) -> i32 {
    if a.always && !allow {
        eprintln!("sentry: --always goes with approve only");
        return EXIT_USAGE;
    }
    let Some(control) = a
        .control
        .clone()
        .or_else(|| std::env::var_os("SENTRY_CONTROL").map(PathBuf::from))
    else {
        eprintln!("sentry: which sandbox? give --control PATH (or set SENTRY_CONTROL)");
        return EXIT_USAGE;
    };
    match crate::policy::approval::send_answer(&control, a.id, allow, a.always) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("sentry: question {}: {e}", a.id);
            1
        }
    }
}

fn anchors() -> Anchors {
    Anchors {
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        // $HOME, or the account's home directory when it is unset (cron, systemd units, env -i).
        home: std::env::var_os("HOME").map(PathBuf::from).or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        }),
    }
}

fn build_policy(a: &PolicyArgs, anchors: &Anchors) -> Result<Policy, i32> {
    let mut b = Builder::new(anchors.clone());
    let err = |e: crate::policy::LoadError| {
        eprintln!("sentry: {e}");
        EXIT_POLICY
    };
    if !a.no_default {
        let f = PolicyFile::parse(DEFAULT_POLICY, "(embedded default)").map_err(err)?;
        b.add_file(&f, "(embedded default)", false).map_err(err)?;
    }
    for p in &a.policy {
        let f = PolicyFile::load(p).map_err(err)?;
        b.add_file(&f, &p.display().to_string(), true)
            .map_err(err)?;
    }
    b.apply(&Overrides {
        ro: a.ro.clone(),
        rw: a.rw.clone(),
        deny: a.deny.clone(),
        env: vec![],
        limit: a.limit.clone(),
        on_deny: a.on_deny.clone(),
        approval_timeout: a.approval_timeout.clone(),
        secret: a.secret.clone(),
        net: a.net.clone(),
        allow_net: a.allow_net.clone(),
    })
    .map_err(err)?;
    Ok(b.build())
}

fn env_for(policy: &Policy, extra: &[String]) -> Vec<CString> {
    let mut out: Vec<(String, OsString)> = Vec::new();
    let mut put = |k: &str, v: OsString| {
        out.retain(|(n, _)| n != k);
        out.push((k.to_string(), v));
    };
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        let passed = policy.env_pass.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => k.starts_with(prefix),
            None => p == k,
        });
        if passed {
            put(k, v);
        }
    }
    for (k, v) in &policy.env_set {
        put(k, v.into());
    }
    for e in extra {
        match e.split_once('=') {
            Some((k, v)) => put(k, v.into()),
            None => {
                if let Some(v) = std::env::var_os(e) {
                    put(e, v);
                }
            }
        }
    }
    out.into_iter()
        .filter_map(|(k, v)| {
            let mut b = k.into_bytes();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            CString::new(b).ok()
        })
        .collect()
}

/// Reads every secret's value from its file (one trailing newline dropped). Unreadable or empty: a policy error.
fn read_secrets(policy: &Policy) -> Result<Vec<(String, String)>, i32> {
    let mut out = Vec::new();
    for (name, file) in &policy.controls.secrets {
        let v = match std::fs::read(file) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("sentry: secret {name}: cannot read {file}: {e}");
                return Err(EXIT_POLICY);
            }
        };
        let mut v = String::from_utf8(v).map_err(|_| {
            eprintln!("sentry: secret {name}: {file} is not UTF-8 text");
            EXIT_POLICY
        })?;
        if v.ends_with('\n') {
            v.pop();
            if v.ends_with('\r') {
                v.pop();
            }
        }
        if v.is_empty() {
            eprintln!("sentry: secret {name}: {file} is empty");
            return Err(EXIT_POLICY);
        }
        out.push((name.clone(), v));
    }
    Ok(out)
}

/// PATH lookup as execvp does, in the sandbox's environment.
fn find_program(cmd: &Path, env: &[CString], workdir: &Path) -> Option<PathBuf> {
    if cmd.as_os_str().as_bytes().contains(&b'/') {
        let p = workdir.join(cmd);
        return p.exists().then_some(p);
    }
    let path = env
        .iter()
        .find_map(|e| {
            e.as_bytes()
                .strip_prefix(b"PATH=")
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(cmd))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
}

/// Every grant of `policy` lies inside one of the parent's (`--within MODE:PATH`) with no more modes.
fn check_within(policy: &Policy, within: &[String]) -> Result<(), String> {
    let env: Vec<(String, PathBuf)> = within
        .iter()
        .filter_map(|w| w.split_once(':'))
        .map(|(m, p)| (m.to_string(), PathBuf::from(p)))
        .collect();
    for g in &policy.grants {
        let Some((mode, _)) = env
            .iter()
            .filter(|(_, p)| g.path.starts_with(p))
            .max_by_key(|(_, p)| p.as_os_str().len())
        else {
            return Err(format!(
                "{} is outside every grant of the parent",
                g.path.display()
            ));
        };
        let has = |i: usize, c: char| mode.chars().nth(i) == Some(c);
        if (g.write && !has(1, 'w')) || (g.exec && !has(2, 'x')) {
            return Err(format!(
                "{} {} is wider than the parent's {mode}",
                g.mode(),
                g.path.display()
            ));
        }
    }
    Ok(())
}

fn exec(a: ExecArgs) -> i32 {
    let anchors = anchors();
    let policy = match build_policy(&a.policy, &anchors) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !a.within.is_empty() {
        if let Err(e) = check_within(&policy, &a.within) {
            eprintln!("sentry: delegated policy refused: {e}");
            return EXIT_POLICY;
        }
    }
    if std::env::var_os("SENTRY_SOCKET").is_some() && a.parent.is_none() {
        // Inside a sandbox: no namespaces of our own; ask the sentry outside for a child sandbox, which can only be
        // narrower than this one.
        let workdir = match &a.workdir {
            Some(w) => crate::policy::load::normalize(&anchors.cwd.join(w)),
            None => anchors.cwd.clone(),
        };
        let argv: Vec<String> = a
            .cmd
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        return match crate::sandbox::delegate::delegate_exec(&policy, &argv, &workdir) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("sentry: delegation: {e}");
                EXIT_SETUP
            }
        };
    }
    let workdir = match &a.workdir {
        Some(w) => crate::policy::load::normalize(&anchors.cwd.join(w)),
        None => anchors.cwd.clone(),
    };
    if !workdir.is_dir() {
        eprintln!("sentry: --workdir {}: no such directory", workdir.display());
        return EXIT_USAGE;
    }
    let inside_tmp = workdir.starts_with("/tmp") || workdir.starts_with("/dev/shm");
    if !inside_tmp && !policy.grants.iter().any(|g| workdir.starts_with(&g.path)) {
        eprintln!(
            "sentry: the working directory {} is outside every grant (add --rw {} or choose --workdir)",
            workdir.display(),
            workdir.display()
        );
        return EXIT_USAGE;
    }
    let mut env = env_for(&policy, &a.env);
    let secrets = match read_secrets(&policy) {
        Ok(s) => s,
        Err(code) => return code,
    };
    for (name, value) in &secrets {
        // A secret wins over a variable of the same name from anywhere else.
        let prefix = format!("{name}=");
        env.retain(|e| !e.as_bytes().starts_with(prefix.as_bytes()));
        let mut b = prefix.into_bytes();
        b.extend_from_slice(value.as_bytes());
        match CString::new(b) {
            Ok(c) => env.push(c),
            Err(_) => {
                eprintln!("sentry: secret {name}: the value contains a NUL byte");
                return EXIT_POLICY;
            }
        }
    }
    let Some(cmd0) = a.cmd.first() else {
        eprintln!("sentry: no program given");
        return EXIT_USAGE;
    };
    if cmd0.as_bytes().starts_with(b"-") {
        // clap hands an unknown option before the command over as the command itself.
        eprintln!(
            "sentry: unknown option '{}' (see sentry exec --help; the command goes after --)",
            cmd0.to_string_lossy()
        );
        return EXIT_USAGE;
    }
    let Some(found) = find_program(Path::new(cmd0), &env, &workdir) else {
        eprintln!("sentry: {}: command not found", cmd0.to_string_lossy());
        return EXIT_NOTFOUND;
    };
    let canonical = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
    if !sandbox::in_view(&policy, &canonical) {
        // Suggest the whole installation (~/.pyenv, ~/.cargo, /opt/tool), not just the binary's directory: shims
        // and launchers need the rest of it.
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let top = |base: &Path| {
            canonical
                .strip_prefix(base)
                .ok()
                .and_then(|r| r.components().next())
                .map(|c| base.join(c))
        };
        let suggest = home
            .as_deref()
            .and_then(top)
            .or_else(|| top(Path::new("/opt")))
            .unwrap_or_else(|| canonical.parent().unwrap_or(Path::new("/")).to_path_buf());
        eprintln!(
            "sentry: {}: not found in the sandbox ({} is outside every grant; add --ro {})",
            cmd0.to_string_lossy(),
            canonical.display(),
            suggest.display()
        );
        return EXIT_NOTFOUND;
    }
    if let (Err(e), rule) = policy.decide(Access::Exec, &canonical) {
        eprintln!(
            "sentry: {}: cannot execute under the policy ({rule}: {})",
            canonical.display(),
            e.desc()
        );
        return EXIT_NOEXEC;
    }
    let to_c = |s: &[u8]| CString::new(s).ok();
    let Some(program) = to_c(found.as_os_str().as_bytes()) else {
        eprintln!("sentry: program path contains a NUL byte");
        return EXIT_USAGE;
    };
    let Some(argv) = a
        .cmd
        .iter()
        .map(|s| to_c(s.as_bytes()))
        .collect::<Option<Vec<_>>>()
    else {
        eprintln!("sentry: an argument contains a NUL byte");
        return EXIT_USAGE;
    };
    let sandbox_id = a.sandbox_id.clone().unwrap_or_else(|| {
        format!(
            "sb-{}-{}",
            std::process::id(),
            crate::audit::now().to_bits() & 0xffff_ffff
        )
    });
    let audit = match Audit::new(sandbox_id, a.audit.as_deref(), a.strace, a.audit_summary) {
        Ok(mut x) => {
            x.redact(secrets.iter().map(|(_, v)| v.clone()).collect());
            x
        }
        Err(e) => {
            eprintln!(
                "sentry: --audit {}: {e}",
                a.audit.as_deref().unwrap_or(Path::new("")).display()
            );
            return EXIT_USAGE;
        }
    };
    let mut policy = policy;
    policy.controls.cgroup_parents.clone_from(&a.cgroup_parent);
    policy.controls.parent = a.parent.clone().map(|p| (p, sandbox_id_for_parent(&a)));
    policy.controls.control = a
        .control
        .as_ref()
        .map(|c| crate::policy::load::normalize(&anchors.cwd.join(c)));
    if let Some(path) = &a.audit {
        // The audit log must not be writable from inside: deny it (and so mask it) when a grant would expose it.
        let real = crate::policy::load::canonical_prefix(&anchors.cwd.join(path), false);
        let exposed = real.starts_with("/tmp")
            || real.starts_with("/dev/shm")
            || policy
                .grants
                .iter()
                .any(|g| g.write && real.starts_with(&g.path));
        if exposed {
            match crate::policy::Deny::new(
                &real.to_string_lossy(),
                nix::errno::Errno::EACCES,
                crate::policy::DenyScope::All,
            ) {
                Ok(d) => policy.add_deny(d),
                Err(e) => {
                    eprintln!("sentry: --audit {}: {e}", path.display());
                    return EXIT_USAGE;
                }
            }
        }
    }
    let spec = Spec {
        policy,
        program,
        argv,
        env,
        workdir,
        audit,
        platform: crate::platform::resolve(a.platform),
        container: None,
    };
    match sandbox::run(spec) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sentry: {e}");
            EXIT_SETUP
        }
    }
}

fn sandbox_id_for_parent(a: &ExecArgs) -> String {
    a.sandbox_id.clone().unwrap_or_default()
}

fn print_table(json: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for (nr, e) in TABLE {
        let line = if json {
            serde_json::json!({ "nr": nr, "name": e.name, "disposition": e.disposition(), "note": e.note }).to_string()
        } else {
            format!("{nr:>4}  {:<24} {:<16} {}", e.name, e.disposition(), e.note)
        };
        if writeln!(out, "{line}").is_err() {
            // The reader went away (`| head`): stop quietly.
            return;
        }
    }
    if !json {
        let count = |f: fn(&Support) -> bool| TABLE.iter().filter(|(_, e)| f(&e.support)).count();
        println!(
            "\n{} syscalls: {} native, {} emulated, {} denied, {} guarded; any other number is answered ENOSYS by the sentry",
            TABLE.len(),
            count(|s| matches!(s, Support::Native)),
            count(|s| matches!(s, Support::Emulated(_))),
            count(|s| matches!(s, Support::Denied(_))),
            count(|s| matches!(s, Support::Guarded(..))),
        );
    }
}

/// `sentry policy explain`.
pub fn explain(p: &Policy) -> String {
    let mut s = String::from(
        "Grants (bound at the same path inside the sandbox; r=read w=write x=execute):\n",
    );
    for g in &p.grants {
        s.push_str(&format!(
            "  {}  {}    ({})\n",
            g.mode(),
            g.path.display(),
            g.origin.trim_matches(['(', ')'])
        ));
    }
    s.push_str("  rwx  /tmp, /dev/shm    (private tmpfs, ");
    s.push_str(&format!("{} MiB, discarded at exit)\n", p.tmp_size >> 20));
    s.push_str("  rw-  /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty\n");
    s.push_str("  r--  /proc    (the sandbox's own processes only; other processes' memory, environment and fds refused)\n");
    s.push_str("\nDenied inside the grants:\n");
    if p.deny.is_empty() {
        s.push_str("  (none)\n");
    }
    for d in &p.deny {
        let scope = match d.scope {
            crate::policy::DenyScope::All => "all access",
            crate::policy::DenyScope::Write => "writes",
        };
        s.push_str(&format!(
            "  {}    ({scope}, {})\n",
            d.pattern,
            d.errno.desc_short()
        ));
    }
    s.push_str("\nProvably excluded:\n");
    s.push_str("  - every host path not listed above: not present in the sandbox's mount view, and refused (ENOENT) by the sentry\n");
    s.push_str("  - host file access beyond the grants: every file opened and every change made for the agent is performed by a\n    separate gofer process whose mount namespace holds only the grants above (read-only ones mounted read-only),\n    with no capabilities, no network and a seccomp allowlist\n");
    let (net_excluded, net_rules) = explain_network(&p.net);
    s.push_str(&net_excluded);
    s.push_str("  - devices other than the ones above; creating device nodes (mknod: EPERM)\n");
    s.push_str("  - host processes: a separate pid namespace; ptrace, process_vm_writev, pidfd_getfd refused\n");
    s.push_str("  - privilege: no capabilities, no_new_privs, no setuid binaries (nosuid), no new namespaces, no mounts\n");
    s.push_str("  - kernel attack surface: bpf, io_uring, userfaultfd, perf_event_open, keyctl, modules, kexec refused\n");
    s.push_str(&net_rules);
    s.push_str("\nEnvironment passed in: ");
    s.push_str(&p.env_pass.join(" "));
    s.push('\n');
    s.push_str(&explain_controls(p));
    s
}

/// The agent-control part of `policy explain`: budgets (with what enforces each on this host, found by making the
/// cgroups and removing them again), the approval mode, and secret names.
fn explain_controls(p: &Policy) -> String {
    let c = &p.controls;
    let mut s = String::new();
    if !c.secrets.is_empty() {
        s.push_str(
            "Secrets put into the environment (values redacted from the audit log and --strace):\n",
        );
        for (name, from) in &c.secrets {
            s.push_str(&format!("  {name}    (from {from})\n"));
        }
    }
    let probe = crate::sandbox::budget::Budget::prepare(&c.limits).describe();
    s.push_str("\nBudgets (per sandbox; \"none\" is unlimited):\n");
    for name in crate::policy::limits::NAMES {
        let origin = c
            .limit_origin
            .get(name)
            .map_or("default", String::as_str)
            .trim_matches(['(', ')']);
        let how = probe["enforcement"][name].as_str().unwrap_or("");
        let how = if how.is_empty() {
            String::new()
        } else {
            format!(" — {how}")
        };
        s.push_str(&format!(
            "  {name:<7} {:<6} ({origin}){how}\n",
            c.limits.show(name)
        ));
    }
    if let Some(notes) = probe["degraded"].as_array().filter(|n| !n.is_empty()) {
        s.push_str("  degraded on this host (no cgroup for some budgets):\n");
        for n in notes {
            s.push_str(&format!("    - {}\n", n.as_str().unwrap_or("")));
        }
    }
    s.push_str(&format!(
        "\nOn a request the policy does not grant: {}",
        c.approval.mode.as_str()
    ));
    if c.approval.mode == crate::policy::limits::OnDeny::Ask {
        s.push_str(&format!(
            " (a controller decides: --control socket, else the sentry's terminal; no answer within {}s is a refusal)",
            c.approval.timeout.as_secs()
        ));
    }
    s.push('\n');
    s
}

/// (what the network mode excludes, the allow rules section).
fn explain_network(n: &crate::policy::net_rules::NetPolicy) -> (String, String) {
    use crate::policy::net_rules::Mode;
    let mut s = match n.mode {
        Mode::None => "  - the network: the sandbox has its own network namespace with only loopback (--net none)\n".to_string(),
        Mode::Sandbox => "  - the network, except the allow rules below: the sandbox has its own namespace with only loopback; \
                          the sentry makes each allowed connection from the host's namespace, and its resolver answers \
                          only allowed names (--net sandbox)\n".to_string(),
        Mode::Host => "  - every destination not allowed below: the sandbox shares the host's network namespace, and the \
                       sentry decides and makes every connect and send (--net host)\n".to_string(),
    };
    s.push_str("  - link-local addresses, the cloud metadata endpoints and the host's loopback, unless a rule names them\n");
    let mut r = String::new();
    let s2 = &mut r;
    if n.mode != Mode::None || !n.unix.is_empty() {
        s2.push_str("\nNetwork allow rules:\n");
        if n.rules.is_empty() && n.unix.is_empty() {
            s2.push_str("  (none)\n");
        }
        for rule in &n.rules {
            s2.push_str(&format!("  {}\n", rule.text));
        }
        for u in &n.unix {
            s2.push_str(&format!("  unix:{}\n", u.display()));
        }
    }
    (s, r)
}

trait ErrnoShort {
    fn desc_short(&self) -> String;
}
impl ErrnoShort for nix::errno::Errno {
    fn desc_short(&self) -> String {
        format!("{self:?}")
    }
}
