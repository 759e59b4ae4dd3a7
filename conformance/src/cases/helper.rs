//! Fixtures shared by the case families, and the probe's `--helper` modes (programs that cases exec as a child).
#![forbid(unsafe_code)]

use std::io::Write;

use nix::errno::Errno;
use serde_json::json;

use crate::case::{Ctx, Stop};
use crate::sys::{self, Arg};

/// The type of a `st_mode` as a word.
pub fn ftype(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFREG => "file",
        libc::S_IFDIR => "dir",
        libc::S_IFLNK => "symlink",
        libc::S_IFIFO => "fifo",
        libc::S_IFCHR => "chr",
        libc::S_IFBLK => "blk",
        libc::S_IFSOCK => "sock",
        _ => "?",
    }
}

/// The permission bits of a `st_mode` in octal (`"0644"`, `"4755"`).
pub fn perms(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// Type and permissions (`"file 0644"`).
pub fn tmode(mode: u32) -> String {
    format!("{} {}", ftype(mode), perms(mode))
}

/// Creates (or truncates) a file with `data` and `mode` (fixture; fails the case on error).
pub fn mkfile(c: &mut Ctx, p: &str, data: &[u8], mode: u32) -> Result<(), Stop> {
    sys::write_file(p, data, mode)
        .map_err(|e| Stop::Fail(format!("fixture: create {p}: {e:?}")))?;
    // The umask may have cut bits; set the mode exactly.
    let cp = sys::cs(p);
    sys::call(libc::SYS_chmod, &[Arg::s(&cp), Arg::u(mode)])
        .map_err(|e| Stop::Fail(format!("fixture: chmod {p}: {e:?}")))?;
    let _ = c;
    Ok(())
}

/// Creates a directory (fixture).
pub fn mkdir(p: &str, mode: u32) -> Result<(), Stop> {
    let cp = sys::cs(p);
    sys::call(libc::SYS_mkdir, &[Arg::s(&cp), Arg::u(mode)])
        .map_err(|e| Stop::Fail(format!("fixture: mkdir {p}: {e:?}")))?;
    sys::call(libc::SYS_chmod, &[Arg::s(&cp), Arg::u(mode)])
        .map_err(|e| Stop::Fail(format!("fixture: chmod {p}: {e:?}")))?;
    Ok(())
}

/// Opens a path with openat(AT_FDCWD) for a fixture; fails the case on error.
pub fn open(p: &str, flags: i32, mode: u32) -> Result<i32, Stop> {
    sys::open_at_cwd(p, flags, mode)
        .map(sys::int)
        .map_err(|e| Stop::Fail(format!("fixture: open {p}: {e:?}")))
}

/// A fixture result that must succeed.
pub fn need<T>(what: &str, r: Result<T, Errno>) -> Result<T, Stop> {
    r.map_err(|e| Stop::Fail(format!("fixture: {what}: {e:?}")))
}

/// Bytes as text for recording.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the probe's helper mode `args` in a forked child with `envp`, its stdout captured through a pipe.
/// Returns (wait status text, stdout).
pub fn run_helper(c: &Ctx, args: &[&str], envp: &[&str]) -> Result<(String, String), Stop> {
    let exe = c.exe().to_owned();
    let mut argv = vec!["probe", "--helper"];
    argv.extend_from_slice(args);
    spawn_capture(&exe, &argv, envp, None)
}

/// Forks, optionally runs `pre` in the child, then execs `path` with stdout on a pipe; returns (status, stdout).
pub fn spawn_capture(
    path: &str,
    argv: &[&str],
    envp: &[&str],
    pre: Option<&dyn Fn()>,
) -> Result<(String, String), Stop> {
    let (r, w) = need("pipe", sys::pipe2(libc::O_CLOEXEC))?;
    let pid = need(
        "fork",
        sys::fork_run(|| {
            if let Some(f) = pre {
                f();
            }
            if sys::call(libc::SYS_dup2, &[Arg::i(w), Arg::i(1)]).is_err() {
                return 126;
            }
            let e = sys::execve(path, argv, envp);
            100 + sys::errno_of(e)
        }),
    )?;
    sys::close(w);
    let mut out = Vec::new();
    loop {
        match sys::read(r, 4096) {
            Ok(b) if b.is_empty() => break,
            Ok(b) => out.extend_from_slice(&b),
            Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    sys::close(r);
    Ok((sys::reap(pid), text(&out)))
}

/// The open fds of this process below 256, with their close-on-exec flag: `[[fd, cloexec], ...]`.
pub fn open_fds() -> Vec<(i32, bool)> {
    (0..256)
        .filter_map(|fd| {
            sys::fcntl(fd, libc::F_GETFD, 0)
                .ok()
                .map(|f| (fd, f & i64::from(libc::FD_CLOEXEC) != 0))
        })
        .collect()
}

/// The probe's `--helper` modes. Returns the exit code.
pub fn main(args: &[String]) -> u8 {
    let mut out = std::io::stdout().lock();
    let name = args.first().map_or("", String::as_str);
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let v = match name {
        "exit" => return rest.first().and_then(|s| s.parse().ok()).unwrap_or(0),
        "echo" => {
            let mut env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
            env.sort();
            json!({ "argv": rest, "env": env })
        }
        "fds" => json!(open_fds()),
        "sigstate" => {
            let blocked = sys::sigprocmask(libc::SIG_BLOCK, None)
                .map(sys::sigs_of)
                .unwrap_or_default();
            let ignored: Vec<i32> = (1..32)
                .filter(|&s| sys::sigaction_query(s).is_ok_and(|(k, _)| k == "ignore"))
                .collect();
            let handled: Vec<i32> = (1..32)
                .filter(|&s| sys::sigaction_query(s).is_ok_and(|(k, _)| k == "handler"))
                .collect();
            let pending = sys::sigpending().map(sys::sigs_of).unwrap_or_default();
            json!({ "blocked": blocked, "ignored": ignored, "handled": handled, "pending": pending })
        }
        "caps" => json!(sys::capget()
            .map(|(e, p, i)| vec![e, p, i])
            .unwrap_or_default()),
        "ids" => {
            let g = |n| sys::call(n, &[]).unwrap_or(-1);
            json!({
                "uid": g(libc::SYS_getuid), "euid": g(libc::SYS_geteuid),
                "gid": g(libc::SYS_getgid), "egid": g(libc::SYS_getegid),
                "ppid_is_parent": rest.first().map(|p| p.parse::<i64>().ok() == Some(g(libc::SYS_getppid))),
            })
        }
        "umask" => {
            let m = sys::call(libc::SYS_umask, &[Arg::u(0o22)]).unwrap_or(-1);
            json!(format!("{m:04o}"))
        }
        "sleep" => {
            let ms = rest.first().and_then(|s| s.parse().ok()).unwrap_or(100);
            let _ = sys::nanosleep(ms / 1000, (ms % 1000) * 1_000_000);
            json!("slept")
        }
        "raise" => {
            let sig: i32 = rest
                .first()
                .and_then(|s| s.parse().ok())
                .unwrap_or(libc::SIGTERM);
            let me = sys::call(libc::SYS_getpid, &[]).unwrap_or(0);
            let _ = sys::call(libc::SYS_kill, &[Arg::I(me), Arg::i(sig)]);
            json!("survived")
        }
        "comm" => json!(sys::get_name().unwrap_or_default()),
        "nnp" => json!(sys::prctl(libc::PR_GET_NO_NEW_PRIVS, 0).unwrap_or(-1)),
        _ => {
            let _ = writeln!(std::io::stderr(), "probe: unknown helper {name:?}");
            return 2;
        }
    };
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
    0
}

/// One argument of `sc`: a path/name string or an integer.
#[derive(Clone, Copy)]
pub enum A<'a> {
    /// A string passed as a C string.
    S(&'a str),
    /// An integer.
    I(i64),
}

impl<'a> From<&'a str> for A<'a> {
    fn from(s: &'a str) -> Self {
        Self::S(s)
    }
}
impl<'a> From<&'a String> for A<'a> {
    fn from(s: &'a String) -> Self {
        Self::S(s.as_str())
    }
}
impl From<i32> for A<'_> {
    fn from(v: i32) -> Self {
        Self::I(i64::from(v))
    }
}
impl From<u32> for A<'_> {
    fn from(v: u32) -> Self {
        Self::I(i64::from(v))
    }
}
impl From<i64> for A<'_> {
    fn from(v: i64) -> Self {
        Self::I(v)
    }
}

/// Calls a read-only-argument syscall (see `sys::call`) with strings converted to C strings.
pub fn sc(nr: i64, args: &[A<'_>]) -> sys::R {
    let owned: Vec<Option<std::ffi::CString>> = args
        .iter()
        .map(|a| {
            if let A::S(s) = a {
                Some(sys::cs(s))
            } else {
                None
            }
        })
        .collect();
    let regs: Vec<Arg<'_>> = args
        .iter()
        .zip(&owned)
        .map(|(a, o)| match (a, o) {
            (_, Some(c)) => Arg::s(c),
            (A::I(v), None) => Arg::I(*v),
            (A::S(_), None) => Arg::I(0),
        })
        .collect();
    sys::call(nr, &regs)
}

/// `sc(nr, [args...])` with each argument converted by `A::from`.
#[macro_export]
macro_rules! sc {
    ($nr:expr $(, $a:expr)* $(,)?) => {
        $crate::cases::helper::sc($nr, &[$($crate::cases::helper::A::from($a)),*])
    };
}
