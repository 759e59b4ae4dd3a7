//! Identity: uids and gids, supplementary groups, changing ids without privilege, uname and hostname,
//! capabilities of the caller.
#![forbid(unsafe_code)]

use nix::errno::Errno;

use super::helper::{need, text};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, Arg};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new(
        "ident.ids",
        &["getuid", "geteuid", "getgid", "getegid"],
        ids,
    ),
    Case::new("ident.getres", &["getresuid", "getresgid"], getres),
    Case::new("ident.getgroups", &["getgroups"], getgroups),
    Case::new(
        "ident.set_same_ids",
        &[
            "setuid",
            "setgid",
            "setresuid",
            "setresgid",
            "setreuid",
            "setregid",
        ],
        set_same_ids,
    ),
    Case::new(
        "ident.set_other_ids",
        &["setuid", "setgid", "setresuid", "setgroups"],
        set_other_ids,
    ),
    Case::new("ident.setfsuid", &["setfsuid", "setfsgid"], setfsuid),
    Case::new("ident.uname", &["uname"], uname),
    Case::new(
        "ident.hostname",
        &["uname", "sethostname", "setdomainname"],
        hostname,
    ),
    Case::new(
        "ident.passwd_lookup",
        &["openat", "read", "getuid"],
        passwd_lookup,
    ),
    Case::new(
        "ident.ids_after_exec",
        &["execve", "getuid", "getppid"],
        ids_after_exec,
    ),
];

fn ids(c: &mut Ctx) -> Outcome {
    for (k, nr) in [
        ("uid", libc::SYS_getuid),
        ("euid", libc::SYS_geteuid),
        ("gid", libc::SYS_getgid),
        ("egid", libc::SYS_getegid),
    ] {
        c.ret(k, sc!(nr)).ok();
    }
    Ok(())
}

fn getres(c: &mut Ctx) -> Outcome {
    let u = c.must("getresuid", sys::getres(false))?;
    let g = c.must("getresgid", sys::getres(true))?;
    c.rec("uids", vec![u.0, u.1, u.2]);
    c.rec("gids", vec![g.0, g.1, g.2]);
    Ok(())
}

fn getgroups(c: &mut Ctx) -> Outcome {
    let (n, _) = c.must("count", sys::getgroups(0))?;
    c.rec("count", n);
    let (_, g) = c.must("list", sys::getgroups(64))?;
    c.rec("groups", g);
    if n > 1 {
        let small = usize::try_from(n - 1).unwrap_or(1);
        c.errno("too_small", sys::getgroups(small), Errno::EINVAL);
    }
    Ok(())
}

fn set_same_ids(c: &mut Ctx) -> Outcome {
    let uid = sc!(libc::SYS_getuid).unwrap_or(0);
    let gid = sc!(libc::SYS_getgid).unwrap_or(0);
    c.ret("setuid_same", sc!(libc::SYS_setuid, uid)).ok();
    c.ret("setgid_same", sc!(libc::SYS_setgid, gid)).ok();
    c.ret("setresuid_unchanged", sc!(libc::SYS_setresuid, -1, -1, -1))
        .ok();
    c.ret("setresgid_unchanged", sc!(libc::SYS_setresgid, -1, -1, -1))
        .ok();
    c.ret("setreuid_same", sc!(libc::SYS_setreuid, uid, uid))
        .ok();
    c.ret("setregid_same", sc!(libc::SYS_setregid, gid, gid))
        .ok();
    Ok(())
}

fn set_other_ids(c: &mut Ctx) -> Outcome {
    let uid = sc!(libc::SYS_getuid).unwrap_or(0);
    let gid = sc!(libc::SYS_getgid).unwrap_or(0);
    c.errno(
        "setuid_other",
        sc!(libc::SYS_setuid, uid + 4242),
        Errno::EPERM,
    );
    c.errno(
        "setgid_other",
        sc!(libc::SYS_setgid, gid + 4242),
        Errno::EPERM,
    );
    c.errno(
        "setresuid_other",
        sc!(libc::SYS_setresuid, uid + 4242, -1, -1),
        Errno::EPERM,
    );
    let groups = [0u32; 1];
    c.errno(
        "setgroups",
        sys::call(libc::SYS_setgroups, &[Arg::n(1), Arg::r(&groups)]),
        Errno::EPERM,
    );
    c.errno(
        "setgroups_empty",
        sys::call(libc::SYS_setgroups, &[Arg::n(0), Arg::I(0)]),
        Errno::EPERM,
    );
    c.ret("uid_unchanged", sc!(libc::SYS_getuid)).ok();
    Ok(())
}

fn setfsuid(c: &mut Ctx) -> Outcome {
    let uid = sc!(libc::SYS_geteuid).unwrap_or(0);
    let gid = sc!(libc::SYS_getegid).unwrap_or(0);
    let cur = sc!(libc::SYS_setfsuid, -1).unwrap_or(-2);
    c.eq("fsuid_is_euid", cur == uid, true);
    let cur = sc!(libc::SYS_setfsgid, -1).unwrap_or(-2);
    c.eq("fsgid_is_egid", cur == gid, true);
    let prev = sc!(libc::SYS_setfsuid, uid + 4242).unwrap_or(-2);
    c.eq("failed_setfsuid_returns_current", prev == uid, true);
    let now = sc!(libc::SYS_setfsuid, -1).unwrap_or(-2);
    c.eq("fsuid_unchanged", now == uid, true);
    Ok(())
}

fn uname(c: &mut Ctx) -> Outcome {
    let u = c.must("uname", sys::uname())?;
    c.rec("sysname", u[0].clone());
    c.rec("release", u[2].clone());
    c.rec("version", u[3].clone());
    c.rec("machine", u[4].clone());
    let rel = need("osrelease", sys::read_file("/proc/sys/kernel/osrelease"))?;
    c.eq("matches_proc_osrelease", text(&rel).trim() == u[2], true);
    Ok(())
}

fn hostname(c: &mut Ctx) -> Outcome {
    let u = c.must("uname", sys::uname())?;
    c.rec("nodename", u[1].clone());
    c.rec("domainname", u[5].clone());
    let h = need("proc hostname", sys::read_file("/proc/sys/kernel/hostname"))?;
    c.eq("matches_proc_hostname", text(&h).trim() == u[1], true);
    let name = b"capvisor-test";
    c.errno(
        "sethostname",
        sys::call(libc::SYS_sethostname, &[Arg::b(name), Arg::n(name.len())]),
        Errno::EPERM,
    );
    c.errno(
        "setdomainname",
        sys::call(libc::SYS_setdomainname, &[Arg::b(name), Arg::n(name.len())]),
        Errno::EPERM,
    );
    Ok(())
}

fn passwd_lookup(c: &mut Ctx) -> Outcome {
    let uid = sc!(libc::SYS_getuid).unwrap_or(0);
    let p = c.must("read_passwd", sys::read_file("/etc/passwd"))?;
    let p = text(&p);
    let name = p
        .lines()
        .find(|l| l.split(':').nth(2).and_then(|u| u.parse::<i64>().ok()) == Some(uid))
        .and_then(|l| l.split(':').next())
        .unwrap_or("")
        .to_owned();
    c.rec("user_name", name);
    let g = c.must("read_group", sys::read_file("/etc/group"))?;
    c.eq("group_file_nonempty", !g.is_empty(), true);
    Ok(())
}

fn ids_after_exec(c: &mut Ctx) -> Outcome {
    let me = sc!(libc::SYS_getpid).unwrap_or(0).to_string();
    let (s, out) = super::helper::run_helper(c, &["ids", &me], &[])?;
    c.rec("status", s);
    c.rec("child", out.trim().to_owned());
    Ok(())
}
