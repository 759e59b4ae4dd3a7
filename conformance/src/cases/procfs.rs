//! /proc/self and /dev: magic links (exe, cwd, fd, root, thread-self), status/stat/cmdline/environ/comm,
//! fdinfo, task, limits, system files, and the device nodes the sandbox provides.
#![forbid(unsafe_code)]

use libc::{O_RDONLY, O_RDWR, O_WRONLY};
use nix::errno::Errno;

use super::helper::{ftype, mkdir, mkfile, need, open, text};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys;

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new("procfs.self_exe", &["readlink"], self_exe),
    Case::new("procfs.self_cwd", &["readlink", "chdir"], self_cwd),
    Case::new(
        "procfs.self_fd",
        &["getdents64", "readlink", "open"],
        self_fd,
    ),
    Case::new(
        "procfs.self_fd_reopen",
        &["open", "read", "write"],
        self_fd_reopen,
    ),
    Case::new("procfs.self_fdinfo", &["openat", "read"], self_fdinfo),
    Case::new("procfs.self_status", &["openat", "read"], self_status),
    Case::new("procfs.self_stat", &["openat", "read"], self_stat),
    Case::new(
        "procfs.self_cmdline_environ",
        &["openat", "read"],
        self_cmdline_environ,
    ),
    Case::new(
        "procfs.self_comm_write",
        &["openat", "write", "prctl"],
        self_comm_write,
    ),
    Case::new("procfs.self_links", &["readlink"], self_links),
    Case::new(
        "procfs.self_limits_ns",
        &["openat", "read", "readlink"],
        self_limits_ns,
    ),
    Case::new("procfs.self_mem", &["openat", "pread64"], self_mem),
    Case::new(
        "procfs.child_pid_dir",
        &["fork", "stat", "openat", "wait4"],
        child_pid_dir,
    ),
    Case::new("procfs.system_files", &["openat", "read"], system_files),
    Case::new(
        "procfs.proc_sys_kernel",
        &["openat", "read"],
        proc_sys_kernel,
    ),
    Case::new(
        "procfs.dev_null_zero_full",
        &["open", "read", "write", "stat"],
        dev_null_zero_full,
    ),
    Case::new("procfs.dev_random", &["open", "read"], dev_random),
    Case::new(
        "procfs.dev_tty_without_ctty",
        &["setsid", "open"],
        dev_tty_without_ctty,
    ),
    Case::new("procfs.dev_fd_links", &["readlink", "open"], dev_fd_links),
    Case::new(
        "procfs.tmp_and_shm",
        &["open", "unlink", "stat"],
        tmp_and_shm,
    ),
];

fn link(c: &mut Ctx, key: &str, p: &str) -> Result<String, crate::case::Stop> {
    let (_, t) = c.must(key, sys::readlink(p, 4096))?;
    Ok(c.path(&t))
}

fn self_exe(c: &mut Ctx) -> Outcome {
    let t = link(c, "readlink", "/proc/self/exe")?;
    c.rec("exe", t);
    let st = c.must("stat", sys::stat("/proc/self/exe"))?;
    c.rec("type", ftype(st.st_mode));
    Ok(())
}

fn self_cwd(c: &mut Ctx) -> Outcome {
    let t = link(c, "readlink", "/proc/self/cwd")?;
    c.rec("cwd", t);
    mkdir("sub", 0o755)?;
    need("chdir", sc!(libc::SYS_chdir, "sub"))?;
    let t = link(c, "readlink_after_chdir", "/proc/self/cwd")?;
    c.rec("cwd_after", t);
    let f = sys::int(c.mustn(
        "open_via_cwd_link",
        sc!(
            libc::SYS_open,
            "/proc/self/cwd/..",
            O_RDONLY | libc::O_DIRECTORY
        ),
    )?);
    sys::close(f);
    Ok(())
}

fn self_fd(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    let names = c.must("list", sys::read_dir_names("/proc/self/fd"))?;
    c.rec("fds", names);
    let t = link(c, "readlink_file", &format!("/proc/self/fd/{f}"))?;
    c.rec("file", t);
    let (r, _w) = need("pipe", sys::pipe())?;
    let (_, t) = c.must(
        "readlink_pipe",
        sys::readlink(&format!("/proc/self/fd/{r}"), 256),
    )?;
    c.rec("pipe_is_pipe", t.starts_with("pipe:["));
    let t = link(c, "readlink_stdin", "/proc/self/fd/0")?;
    c.rec("stdin", t);
    c.errno(
        "readlink_closed",
        sys::readlink("/proc/self/fd/999", 256),
        Errno::ENOENT,
    );
    Ok(())
}

fn self_fd_reopen(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"original", 0o644)?;
    let f = open("f", O_RDONLY, 0)?;
    let p = format!("/proc/self/fd/{f}");
    let g = sys::int(c.mustn("reopen_rdwr", sc!(libc::SYS_open, &p, O_RDWR))?);
    c.ret("write_via_reopened", sys::write(g, b"changed!")).ok();
    sys::close(g);
    let d = need("read", sys::read_file("f"))?;
    c.eq("content", text(&d), "changed!".into());
    sys::close(f);
    Ok(())
}

fn self_fdinfo(c: &mut Ctx) -> Outcome {
    mkfile(c, "f", b"0123456789", 0o644)?;
    let f = open("f", O_RDONLY | libc::O_CLOEXEC, 0)?;
    need("lseek", sc!(libc::SYS_lseek, f, 3, libc::SEEK_SET))?;
    let d = c.must("read", sys::read_file(&format!("/proc/self/fdinfo/{f}")))?;
    let d = text(&d);
    let keep: Vec<String> = d
        .lines()
        .filter(|l| l.starts_with("pos:") || l.starts_with("flags:"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    c.rec("fields", keep);
    Ok(())
}

fn field(status: &str, key: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| {
            l[key.len()..]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn self_status(c: &mut Ctx) -> Outcome {
    let d = c.must("read", sys::read_file("/proc/self/status"))?;
    let s = text(&d);
    for k in [
        "Name:", "Umask:", "State:", "Uid:", "Gid:", "Groups:", "Threads:", "SigBlk:", "SigIgn:",
    ] {
        c.rec(k.trim_end_matches(':'), field(&s, k));
    }
    let me = sc!(libc::SYS_getpid).unwrap_or(0).to_string();
    c.eq("tgid_is_pid", field(&s, "Tgid:") == me, true);
    c.eq("pid_is_pid", field(&s, "Pid:") == me, true);
    Ok(())
}

fn self_stat(c: &mut Ctx) -> Outcome {
    let d = c.must("read", sys::read_file("/proc/self/stat"))?;
    let s = text(&d);
    let open = s.find('(').unwrap_or(0);
    let close = s.rfind(')').unwrap_or(0);
    c.rec("comm", s.get(open + 1..close).unwrap_or("").to_owned());
    let rest: Vec<&str> = s
        .get(close + 2..)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    c.rec("state", rest.first().copied().unwrap_or(""));
    c.rec("num_threads", rest.get(17).copied().unwrap_or(""));
    let me = sc!(libc::SYS_getpid).unwrap_or(0).to_string();
    c.eq(
        "pid_field",
        s.split_whitespace().next() == Some(me.as_str()),
        true,
    );
    let ppid = sc!(libc::SYS_getppid).unwrap_or(0).to_string();
    c.eq(
        "ppid_field",
        rest.get(1).copied() == Some(ppid.as_str()),
        true,
    );
    let pg = sc!(libc::SYS_getpgrp).unwrap_or(0).to_string();
    c.eq(
        "pgrp_field",
        rest.get(2).copied() == Some(pg.as_str()),
        true,
    );
    Ok(())
}

fn self_cmdline_environ(c: &mut Ctx) -> Outcome {
    let d = c.must("cmdline", sys::read_file("/proc/self/cmdline"))?;
    let args: Vec<String> = d
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| c.path(&text(a)))
        .collect();
    c.rec("argv", args);
    let d = c.must("environ", sys::read_file("/proc/self/environ"))?;
    let mut env: Vec<String> = d
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        // The one variable a sandbox adds on purpose: its delegation endpoint (README, "Delegation").
        .filter(|a| !a.starts_with(b"SENTRY_SOCKET="))
        .map(|a| c.path(&text(a)))
        .collect();
    env.sort();
    c.rec("environ", env);
    Ok(())
}

fn self_comm_write(c: &mut Ctx) -> Outcome {
    let f = sys::int(c.mustn(
        "open_comm",
        sc!(libc::SYS_open, "/proc/self/comm", O_WRONLY),
    )?);
    c.ret("write", sys::write(f, b"renamed")).ok();
    sys::close(f);
    let d = c.must("read", sys::read_file("/proc/self/comm"))?;
    c.rec("comm", text(&d).trim().to_owned());
    c.rec("prctl_name", sys::get_name().unwrap_or_default());
    Ok(())
}

fn self_links(c: &mut Ctx) -> Outcome {
    let t = link(c, "root", "/proc/self/root")?;
    c.rec("root_target", t);
    let pid = sc!(libc::SYS_getpid).unwrap_or(0).to_string();
    let (_, s) = c.must("self", sys::readlink("/proc/self", 64))?;
    c.eq("self_target", s.replace(&pid, "<pid>"), "<pid>".into());
    let (_, ts) = c.must("thread_self", sys::readlink("/proc/thread-self", 64))?;
    c.eq(
        "thread_self_target",
        ts.replace(&pid, "<pid>"),
        "<pid>/task/<pid>".into(),
    );
    let st = c.must("stat_self_dir", sys::stat("/proc/self"))?;
    c.rec("self_type", ftype(st.st_mode));
    Ok(())
}

fn self_limits_ns(c: &mut Ctx) -> Outcome {
    let d = c.must("limits", sys::read_file("/proc/self/limits"))?;
    c.rec("has_open_files", text(&d).contains("Max open files"));
    let mut kinds = Vec::new();
    for ns in ["mnt", "pid", "net", "user", "uts", "ipc", "cgroup"] {
        let r = sys::readlink(&format!("/proc/self/ns/{ns}"), 128);
        kinds.push(match r {
            Ok((_, t)) => format!("{ns}: {}", t.starts_with(&format!("{ns}:["))),
            Err(e) => format!("{ns}: {e:?}"),
        });
    }
    c.rec("ns_links", kinds);
    Ok(())
}

fn self_mem(c: &mut Ctx) -> Outcome {
    let data = b"visible through /proc/self/mem".to_vec();
    let f = sys::int(c.mustn("open_mem", sc!(libc::SYS_open, "/proc/self/mem", O_RDONLY))?);
    let addr = i64::try_from(data.as_ptr() as usize).unwrap_or(0);
    let got = c.must("pread", sys::pread(f, data.len(), addr))?;
    c.eq("same_bytes", got == data, true);
    c.errno("pread_unmapped", sys::pread(f, 8, 4096), Errno::EIO);
    sys::close(f);
    Ok(())
}

fn child_pid_dir(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sys::read(r, 1);
            0
        }),
    )?;
    let st = c.must("stat_child_dir", sys::stat(&format!("/proc/{pid}")))?;
    c.rec("type", ftype(st.st_mode));
    let d = c.must(
        "read_child_stat",
        sys::read_file(&format!("/proc/{pid}/stat")),
    )?;
    let s = text(&d);
    let rest = s.get(s.rfind(')').unwrap_or(0) + 2..).unwrap_or("");
    c.eq(
        "child_ppid_is_us",
        rest.split_whitespace().nth(1)
            == Some(sc!(libc::SYS_getpid).unwrap_or(0).to_string().as_str()),
        true,
    );
    need("release", sys::write(w, b"x"))?;
    c.rec("child", sys::reap(pid));
    c.errno(
        "stat_after_reap",
        sys::stat(&format!("/proc/{pid}")),
        Errno::ENOENT,
    );
    Ok(())
}

fn system_files(c: &mut Ctx) -> Outcome {
    let checks: &[(&str, &str)] = &[
        ("/proc/meminfo", "MemTotal:"),
        ("/proc/cpuinfo", "processor"),
        ("/proc/version", "Linux version"),
        ("/proc/stat", "cpu "),
        ("/proc/filesystems", "proc"),
        ("/proc/self/mountinfo", " / "),
    ];
    for (p, needle) in checks {
        let r = sys::read_file(p).map(|d| text(&d).contains(needle));
        match r {
            Ok(b) => c.rec(p, b),
            Err(e) => c.rec(p, crate::case::ename(e)),
        }
    }
    let up = c.must("uptime", sys::read_file("/proc/uptime"))?;
    c.rec("uptime_fields", text(&up).split_whitespace().count());
    let la = c.must("loadavg", sys::read_file("/proc/loadavg"))?;
    c.rec("loadavg_fields", text(&la).split_whitespace().count());
    Ok(())
}

fn proc_sys_kernel(c: &mut Ctx) -> Outcome {
    for k in ["ostype", "pid_max", "ngroups_max", "cap_last_cap"] {
        let r = sys::read_file(&format!("/proc/sys/kernel/{k}"));
        match r {
            Ok(d) => c.rec(k, text(&d).trim().to_owned()),
            Err(e) => c.rec(k, crate::case::ename(e)),
        }
    }
    c.errno(
        "write_read_only_sysctl",
        sc!(libc::SYS_open, "/proc/sys/kernel/cap_last_cap", O_WRONLY),
        Errno::EACCES,
    );
    Ok(())
}

fn dev_null_zero_full(c: &mut Ctx) -> Outcome {
    let n = sys::int(c.mustn("open_null", sc!(libc::SYS_open, "/dev/null", O_RDWR))?);
    c.ret("write_null", sys::write(n, &[1u8; 100])).ok();
    let d = c.must("read_null", sys::read(n, 10))?;
    c.eq("null_eof", d.len(), 0);
    let st = c.must("stat_null", sys::fstat(n))?;
    c.rec(
        "null",
        format!(
            "{} {}:{}",
            ftype(st.st_mode),
            libc::major(st.st_rdev),
            libc::minor(st.st_rdev)
        ),
    );
    let z = sys::int(c.mustn("open_zero", sc!(libc::SYS_open, "/dev/zero", O_RDWR))?);
    let d = c.must("read_zero", sys::read(z, 16))?;
    c.eq("zeros", d, vec![0u8; 16]);
    c.ret("write_zero", sys::write(z, b"x")).ok();
    let f = sys::int(c.mustn("open_full", sc!(libc::SYS_open, "/dev/full", O_RDWR))?);
    c.errno("write_full", sys::write(f, b"x"), Errno::ENOSPC);
    let d = c.must("read_full", sys::read(f, 4))?;
    c.eq("full_reads_zeros", d, vec![0u8; 4]);
    Ok(())
}

fn dev_random(c: &mut Ctx) -> Outcome {
    for p in ["/dev/urandom", "/dev/random"] {
        let f = sys::int(c.mustn(p, sc!(libc::SYS_open, p, O_RDONLY))?);
        let d = c.must("read", sys::read(f, 32))?;
        c.rec(&format!("{p} len"), d.len());
        let st = c.must("fstat", sys::fstat(f))?;
        c.rec(
            &format!("{p} dev"),
            format!(
                "{} {}:{}",
                ftype(st.st_mode),
                libc::major(st.st_rdev),
                libc::minor(st.st_rdev)
            ),
        );
        sys::close(f);
    }
    Ok(())
}

fn dev_tty_without_ctty(c: &mut Ctx) -> Outcome {
    let pid = need(
        "fork",
        sys::fork_run(|| {
            if sc!(libc::SYS_setsid).is_err() {
                return 2;
            }
            match sc!(libc::SYS_open, "/dev/tty", O_RDWR) {
                Ok(_) => 0,
                Err(e) => 100 + e as i32,
            }
        }),
    )?;
    c.rec("open_dev_tty_after_setsid", sys::reap(pid));
    Ok(())
}

fn dev_fd_links(c: &mut Ctx) -> Outcome {
    for p in ["/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/fd"] {
        match sys::readlink(p, 256) {
            Ok((_, t)) => c.rec(p, t),
            Err(e) => c.rec(p, crate::case::ename(e)),
        }
    }
    let r = sc!(libc::SYS_open, "/dev/fd/0", O_RDONLY);
    c.st("open_dev_fd_0", r).ok();
    Ok(())
}

fn tmp_and_shm(c: &mut Ctx) -> Outcome {
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    for dir in ["/tmp", "/dev/shm"] {
        let p = format!("{dir}/capvisor-conf-{me}");
        let r = sc!(
            libc::SYS_open,
            &p,
            libc::O_CREAT | libc::O_EXCL | O_RDWR,
            0o600
        );
        c.st(&format!("{dir} create"), r).ok();
        if let Ok(f) = r {
            c.ret(&format!("{dir} write"), sys::write(sys::int(f), b"x"))
                .ok();
            sys::close(sys::int(f));
            c.ret(&format!("{dir} unlink"), sc!(libc::SYS_unlink, &p))
                .ok();
        }
        let st = c.must(&format!("{dir} stat"), sys::stat(dir))?;
        c.rec(&format!("{dir} mode"), super::helper::tmode(st.st_mode));
    }
    Ok(())
}
