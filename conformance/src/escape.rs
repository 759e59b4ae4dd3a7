//! `conformance escape`: adversarial programs run under the sentry, each judged from outside the sandbox — the
//! secret never appears in the sandbox's output, host files keep their content and mode, host listeners see no
//! connection, host processes receive no signal. Closing line: `N blocked, N escaped`.
//!
//! The attacks are python3 scripts (Debian's /usr/bin/python3, inside the default grants); each runs in a fresh
//! workspace under /tmp (the sandbox's working directory), with its secret kept outside the grants in /var/tmp.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::spawn;

/// One escape case's verdict.
pub struct Verdict {
    pub name: &'static str,
    pub blocked: bool,
    pub detail: String,
}

struct Dirs {
    ws: PathBuf,
    outside: PathBuf,
}

impl Dirs {
    fn new(name: &str) -> std::io::Result<Self> {
        let tag = format!("capvisor-escape-{}-{name}", std::process::id());
        let ws = std::env::temp_dir().join(&tag);
        let outside = Path::new("/var/tmp").join(&tag);
        for d in [&ws, &outside] {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d)?;
        }
        Ok(Self { ws, outside })
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.ws);
        let _ = std::fs::remove_dir_all(&self.outside);
    }
}

/// Did the attack actually run to the end (so that "blocked" means something)? Exit 0 and at least `lines` lines.
fn ran(r: &spawn::Run, lines: usize) -> bool {
    matches!(r.status, spawn::Status::Exited(0)) && r.stdout.lines().count() >= lines
}

static PLATFORM: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// The platform every attack runs on (`sentry exec --platform P`); `None`: the sentry's default. Set once.
pub fn set_platform(p: Option<String>) {
    let _ = PLATFORM.set(p);
}

fn sandboxed(sentry: &Path, ws: &Path, flags: &[&str], script: &str) -> spawn::Run {
    let mut argv = vec![sentry.display().to_string(), "exec".into()];
    if let Some(Some(p)) = PLATFORM.get() {
        argv.extend(["--platform".into(), p.clone()]);
    }
    argv.extend(flags.iter().map(|s| (*s).to_string()));
    argv.extend([
        "--".into(),
        "/usr/bin/python3".into(),
        "-c".into(),
        script.to_string(),
    ]);
    let env = [(
        "PATH".to_string(),
        "/usr/local/bin:/usr/bin:/bin".to_string(),
    )];
    spawn::run(&argv, ws, &env, Duration::from_secs(60))
}

const SECRET: &str = "CAPVISOR-ESCAPE-SECRET-4f1b";

/// Every route to a file outside the grants.
fn read_outside(sentry: &Path) -> std::io::Result<Verdict> {
    let d = Dirs::new("read")?;
    let secret = d.outside.join("secret.txt");
    std::fs::write(&secret, SECRET)?;
    let s = secret.display();
    let depth = "../".repeat(d.ws.components().count());
    let script = format!(
        "import os\n\
         paths = ['{s}', '{depth}{rel}', '/proc/self/root{s}', '/proc/self/cwd/{depth}{rel}', '/proc/1/root{s}']\n\
         for target in ['{s}', '{depth}{rel}']:\n\
         \x20   try: os.symlink(target, 'l%d' % len(paths)); paths.append('l%d' % len(paths))\n\
         \x20   except OSError: pass\n\
         try: os.link('{s}', 'hard'); paths.append('hard')\nexcept OSError: pass\n\
         for p in paths:\n\
         \x20   try: print(p, open(p).read())\n\
         \x20   except OSError as e: print(p, 'refused', e.errno)\n\
         try:\n    fd = os.open('/', os.O_RDONLY | os.O_DIRECTORY); print(os.pread(os.openat(fd, '{rel}', os.O_RDONLY) if hasattr(os, 'openat') else -1, 100, 0))\nexcept Exception as e: print('dirfd refused', e)\n",
        rel = s.to_string().trim_start_matches('/'),
    );
    let r = sandboxed(sentry, &d.ws, &[], &script);
    let leaked = r.stdout.contains(SECRET) || r.stderr.contains(SECRET);
    Ok(Verdict {
        name: "read a host file outside the grants",
        blocked: ran(&r, 8) && !leaked,
        detail: tail(&r),
    })
}

/// Every route to change a file under a read-only grant.
fn write_readonly(sentry: &Path) -> std::io::Result<Verdict> {
    let d = Dirs::new("ro")?;
    let ro = d.outside.join("ro");
    std::fs::create_dir_all(&ro)?;
    let f = ro.join("file.txt");
    std::fs::write(&f, "original")?;
    let r = ro.display();
    let script = format!(
        "import os\n\
         steps = [lambda: open('{r}/file.txt', 'w').write('x'), lambda: open('{r}/new', 'w'),\n\
         \x20        lambda: os.truncate('{r}/file.txt', 0), lambda: os.chmod('{r}/file.txt', 0o777),\n\
         \x20        lambda: os.rename('{r}/file.txt', '{r}/moved'), lambda: os.unlink('{r}/file.txt'),\n\
         \x20        lambda: os.symlink('x', '{r}/l'), lambda: os.mkdir('{r}/d'), lambda: os.utime('{r}/file.txt', (0, 0)),\n\
         \x20        lambda: os.open('/proc/self/fd/%d' % os.open('{r}/file.txt', os.O_RDONLY), os.O_WRONLY | os.O_TRUNC)]\n\
         for s in steps:\n\
         \x20   try: s(); print('done')\n\
         \x20   except OSError as e: print('refused', e.errno)\n"
    );
    let before = std::fs::metadata(&f)?;
    let run = sandboxed(sentry, &d.ws, &["--ro", &r.to_string()], &script);
    let after = std::fs::metadata(&f).ok();
    let entries = std::fs::read_dir(&ro)?.count();
    let unchanged = ran(&run, 10)
        && std::fs::read_to_string(&f).ok().as_deref() == Some("original")
        && after.is_some_and(|a| {
            a.permissions().mode() == before.permissions().mode()
                && a.modified().ok() == before.modified().ok()
        })
        && entries == 1;
    Ok(Verdict {
        name: "change a file under a read-only grant",
        blocked: unchanged,
        detail: tail(&run),
    })
}

/// A deny rule inside a writable workspace, attacked through links, renames and fd reopens.
fn deny_inside_grant(sentry: &Path) -> std::io::Result<Verdict> {
    let d = Dirs::new("deny")?;
    std::fs::create_dir_all(d.ws.join("cfg"))?;
    std::fs::write(d.ws.join("cfg/secret.txt"), SECRET)?;
    let script = "import os\n\
                  def t(name, f):\n\
                  \x20   try: print(name, f())\n\
                  \x20   except OSError as e: print(name, 'refused', e.errno)\n\
                  t('direct', lambda: open('cfg/secret.txt').read())\n\
                  t('symlink', lambda: (os.symlink('cfg/secret.txt', 's'), open('s').read()))\n\
                  t('abs-symlink', lambda: (os.symlink(os.getcwd() + '/cfg/secret.txt', 'a'), open('a').read()))\n\
                  t('hardlink', lambda: (os.link('cfg/secret.txt', 'h'), open('h').read()))\n\
                  t('rename-dir', lambda: (os.rename('cfg', 'c2'), open('c2/secret.txt').read()))\n\
                  t('rename-file', lambda: (os.rename('cfg/secret.txt', 'x'), open('x').read()))\n\
                  t('rdwr', lambda: os.read(os.open('cfg/secret.txt', os.O_RDWR), 100))\n\
                  t('dotdot', lambda: open('cfg/../cfg/./secret.txt').read())\n";
    let deny = format!("{}/cfg/secret.txt", d.ws.display());
    let r = sandboxed(sentry, &d.ws, &["--deny", &deny], script);
    let leaked = r.stdout.contains(SECRET) || r.stderr.contains(SECRET);
    let intact = std::fs::read_to_string(d.ws.join("cfg/secret.txt"))
        .ok()
        .as_deref()
        == Some(SECRET);
    Ok(Verdict {
        name: "read or move a denied file inside a grant",
        blocked: ran(&r, 8) && !leaked && intact,
        detail: tail(&r),
    })
}

/// A host unix socket and a host TCP listener: neither sees a connection.
fn reach_host_listeners(sentry: &Path) -> std::io::Result<Verdict> {
    let d = Dirs::new("net")?;
    let unix_path = d.ws.join("host.sock");
    let unix = std::os::unix::net::UnixListener::bind(&unix_path)?;
    unix.set_nonblocking(true)?;
    let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
    tcp.set_nonblocking(true)?;
    let port = tcp.local_addr()?.port();
    let script = format!(
        "import socket\n\
         for fam, addr in [(socket.AF_UNIX, '{u}'), (socket.AF_INET, ('127.0.0.1', {port})), (socket.AF_INET6, ('::1', {port}))]:\n\
         \x20   s = socket.socket(fam)\n\
         \x20   s.settimeout(2)\n\
         \x20   try: s.connect(addr); s.send(b'x'); print(addr, 'connected')\n\
         \x20   except OSError as e: print(addr, 'refused', e.errno)\n",
        u = unix_path.display()
    );
    let r = sandboxed(sentry, &d.ws, &[], &script);
    std::thread::sleep(Duration::from_millis(200));
    let reached = unix.accept().is_ok() || tcp.accept().is_ok();
    Ok(Verdict {
        name: "reach a host unix socket or loopback listener",
        blocked: ran(&r, 3) && !reached,
        detail: tail(&r),
    })
}

/// Set-id bits never reach the host.
fn plant_setuid(sentry: &Path) -> std::io::Result<Verdict> {
    let d = Dirs::new("setuid")?;
    let script = "import os, shutil\n\
                  shutil.copy('/usr/bin/id', 'a')\n\
                  for f in [lambda: os.chmod('a', 0o4755), lambda: os.fchmod(os.open('a', os.O_RDWR), 0o6755),\n\
                  \x20         lambda: os.close(os.open('b', os.O_CREAT | os.O_WRONLY, 0o4777))]:\n\
                  \x20   try: f(); print('done')\n\
                  \x20   except OSError as e: print('refused', e.errno)\n";
    let r = sandboxed(sentry, &d.ws, &[], script);
    let setid = ["a", "b"].iter().any(|f| {
        std::fs::metadata(d.ws.join(f)).is_ok_and(|m| m.permissions().mode() & 0o6000 != 0)
    });
    Ok(Verdict {
        name: "plant a set-id file on the host",
        blocked: ran(&r, 3) && !setid,
        detail: tail(&r),
    })
}

/// Signals to host processes: a canary outside the sandbox survives kill(-1) and kill(its pid).
fn signal_host(sentry: &Path) -> std::io::Result<Verdict> {
    let d = Dirs::new("signal")?;
    let mut canary = std::process::Command::new("/bin/sleep").arg("60").spawn()?;
    let script = format!(
        "import os, signal\n\
         for target in [{pid}, -1, {me}]:\n\
         \x20   try: os.kill(target, signal.SIGKILL); print(target, 'sent')\n\
         \x20   except OSError as e: print(target, 'refused', e.errno)\n",
        pid = canary.id(),
        me = std::process::id()
    );
    let r = sandboxed(sentry, &d.ws, &[], &script);
    let alive = canary.try_wait().ok().flatten().is_none();
    let _ = canary.kill();
    let _ = canary.wait();
    Ok(Verdict {
        name: "signal a host process",
        blocked: ran(&r, 3) && alive,
        detail: tail(&r),
    })
}

/// Privileged operations: mount, chroot, a new user namespace, ptrace of the parent, kernel modules.
fn privilege(sentry: &Path) -> std::io::Result<Verdict> {
    let d = Dirs::new("priv")?;
    let script = "import ctypes, os\n\
                  libc = ctypes.CDLL(None, use_errno=True)\n\
                  calls = {'mount': (165, b'none', b'/tmp', b'tmpfs', 0, 0), 'chroot': (161, b'/tmp'),\n\
                  \x20        'unshare-user': (272, 0x10000000), 'ptrace-parent': (101, 16, os.getppid(), 0, 0),\n\
                  \x20        'init_module': (175, 0, 0, b''), 'bpf': (321, 0, 0, 0), 'io_uring': (425, 1, 0)}\n\
                  for name, args in calls.items():\n\
                  \x20   r = libc.syscall(*args)\n\
                  \x20   print(name, 'SUCCEEDED' if r >= 0 else 'refused %d' % ctypes.get_errno())\n";
    let r = sandboxed(sentry, &d.ws, &[], script);
    let blocked = ran(&r, 7) && !r.stdout.contains("SUCCEEDED");
    Ok(Verdict {
        name: "gain privilege (mount, chroot, namespaces, ptrace, modules, bpf, io_uring)",
        blocked,
        detail: tail(&r),
    })
}

fn tail(r: &spawn::Run) -> String {
    let out = format!("{:?}\n{}{}", r.status, r.stdout, r.stderr);
    let last: Vec<&str> = out.lines().rev().take(3).collect();
    last.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Runs every case; an I/O failure setting one up is reported as not judged (never as blocked).
pub fn run_all(sentry: &Path) -> Vec<Verdict> {
    type Case = fn(&Path) -> std::io::Result<Verdict>;
    let cases: [(&'static str, Case); 7] = [
        ("read a host file outside the grants", read_outside),
        ("change a file under a read-only grant", write_readonly),
        (
            "read or move a denied file inside a grant",
            deny_inside_grant,
        ),
        (
            "reach a host unix socket or loopback listener",
            reach_host_listeners,
        ),
        ("plant a set-id file on the host", plant_setuid),
        ("signal a host process", signal_host),
        ("gain privilege", privilege),
    ];
    cases
        .iter()
        .map(|(name, f)| {
            f(sentry).unwrap_or_else(|e| Verdict {
                name,
                blocked: false,
                detail: format!("could not set up: {e}"),
            })
        })
        .collect()
}
