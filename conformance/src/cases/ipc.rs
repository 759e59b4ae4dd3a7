//! System V IPC (shared memory, semaphores, message queues) and POSIX message queues. Every object is private
//! (IPC_PRIVATE, or a queue name unique to the process) and removed by the case.
#![forbid(unsafe_code)]

use nix::errno::Errno;

use super::helper::{need, text};
use crate::case::{Case, Ctx, Outcome, Stop};
use crate::sc;
use crate::sys::{self, Arg};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new(
        "ipc.shm_basic",
        &["shmget", "shmat", "shmctl", "shmdt"],
        shm_basic,
    ),
    Case::new(
        "ipc.shm_across_fork",
        &["shmget", "shmat", "fork", "shmctl"],
        shm_across_fork,
    ),
    Case::new(
        "ipc.shm_errors",
        &["shmget", "shmat", "shmctl", "shmdt"],
        shm_errors,
    ),
    Case::new(
        "ipc.sem_basic",
        &["semget", "semctl", "semop", "semtimedop"],
        sem_basic,
    ),
    Case::new("ipc.sem_errors", &["semget", "semctl", "semop"], sem_errors),
    Case::new(
        "ipc.msg_basic",
        &["msgget", "msgsnd", "msgrcv", "msgctl"],
        msg_basic,
    ),
    Case::new(
        "ipc.msg_errors",
        &["msgget", "msgsnd", "msgrcv", "msgctl"],
        msg_errors,
    ),
    Case::new(
        "ipc.mq_basic",
        &[
            "mq_open",
            "mq_timedsend",
            "mq_timedreceive",
            "mq_getsetattr",
            "mq_unlink",
        ],
        mq_basic,
    ),
    Case::new(
        "ipc.mq_errors",
        &["mq_open", "mq_timedreceive", "mq_unlink"],
        mq_errors,
    ),
];

fn key_private() -> i32 {
    libc::IPC_PRIVATE
}

fn shm_basic(c: &mut Ctx) -> Outcome {
    let id = c.must(
        "shmget",
        sc!(
            libc::SYS_shmget,
            key_private(),
            8192,
            libc::IPC_CREAT | 0o600
        ),
    )?;
    let id = sys::int(id);
    let st = c.must("ipc_stat", sys::ipc_stat(libc::SYS_shmctl, id))?;
    c.rec("mode", format!("{:04o}", st.mode()));
    c.rec("segsz", st.field(48));
    c.rec("nattch_before", st.field(88));
    let m = c.must("shmat", sys::shmat(id, 0, 8192))?;
    c.eq("zero_filled", m.read(0, 4), vec![0u8; 4]);
    m.write(100, b"shared");
    c.eq("read_back", text(&m.read(100, 6)), "shared".into());
    let st = c.must("ipc_stat2", sys::ipc_stat(libc::SYS_shmctl, id))?;
    c.rec("nattch_attached", st.field(88));
    c.ret("shmdt", m.detach()).ok();
    c.ret("rmid", sys::ipc_rmid(libc::SYS_shmctl, id)).ok();
    c.errno(
        "stat_after_rmid",
        sys::ipc_stat(libc::SYS_shmctl, id),
        Errno::EINVAL,
    );
    Ok(())
}

fn shm_across_fork(c: &mut Ctx) -> Outcome {
    let id = sys::int(need(
        "shmget",
        sc!(
            libc::SYS_shmget,
            key_private(),
            4096,
            libc::IPC_CREAT | 0o600
        ),
    )?);
    let m = c.must("shmat", sys::shmat(id, 0, 4096))?;
    let pid = need(
        "fork",
        sys::fork_run(|| {
            m.write(0, b"from child");
            0
        }),
    )?;
    c.rec("child", sys::reap(pid));
    c.eq("parent_sees", text(&m.read(0, 10)), "from child".into());
    let r = sys::shmat(id, libc::SHM_RDONLY, 4096);
    let ro = c.must("shmat_rdonly", r)?;
    c.eq("rdonly_view", text(&ro.read(0, 4)), "from".into());
    drop(ro);
    drop(m);
    need("rmid", sys::ipc_rmid(libc::SYS_shmctl, id))?;
    Ok(())
}

fn shm_errors(c: &mut Ctx) -> Outcome {
    c.errno(
        "size_zero",
        sc!(libc::SYS_shmget, key_private(), 0, libc::IPC_CREAT | 0o600),
        Errno::EINVAL,
    );
    c.errno(
        "missing_key",
        sc!(libc::SYS_shmget, 0x5eed_0001, 4096, 0o600),
        Errno::ENOENT,
    );
    c.errno(
        "shmat_bad_id",
        sys::shmat(-1, 0, 4096).map(|_| 0),
        Errno::EINVAL,
    );
    c.errno("shmdt_not_attached", sys::shmdt_unattached(), Errno::EINVAL);
    c.errno(
        "rmid_bad_id",
        sys::ipc_rmid(libc::SYS_shmctl, 0x7fff_fff0),
        Errno::EINVAL,
    );
    let id = sys::int(need(
        "shmget",
        sc!(libc::SYS_shmget, key_private(), 4096, libc::IPC_CREAT),
    )?);
    c.errno(
        "shmat_no_permission",
        sys::shmat(id, 0, 4096).map(|_| 0),
        Errno::EACCES,
    );
    need("rmid", sys::ipc_rmid(libc::SYS_shmctl, id))?;
    Ok(())
}

fn sembuf(num: u16, op: i16, flg: i16) -> [u8; 6] {
    let mut b = [0u8; 6];
    b[..2].copy_from_slice(&num.to_ne_bytes());
    b[2..4].copy_from_slice(&op.to_ne_bytes());
    b[4..].copy_from_slice(&flg.to_ne_bytes());
    b
}

fn semop(id: i32, ops: &[[u8; 6]]) -> sys::R {
    let flat: Vec<u8> = ops.iter().flatten().copied().collect();
    sys::call(
        libc::SYS_semop,
        &[Arg::i(id), Arg::b(&flat), Arg::n(ops.len())],
    )
}

fn sem_basic(c: &mut Ctx) -> Outcome {
    let id = sys::int(c.must(
        "semget",
        sc!(libc::SYS_semget, key_private(), 2, libc::IPC_CREAT | 0o600),
    )?);
    let st = c.must("ipc_stat", sys::ipc_stat(libc::SYS_semctl, id))?;
    c.rec("nsems", st.field(80));
    c.rec("mode", format!("{:04o}", st.mode()));
    c.ret("getval_initial", sys::semctl_int(id, 0, libc::GETVAL, 0))
        .ok();
    c.ret("setval_3", sys::semctl_int(id, 0, libc::SETVAL, 3))
        .ok();
    c.ret("semop_down_2", semop(id, &[sembuf(0, -2, 0)])).ok();
    c.ret("getval_after", sys::semctl_int(id, 0, libc::GETVAL, 0))
        .ok();
    let nowait = i16::try_from(libc::IPC_NOWAIT).unwrap_or(0);
    c.errno(
        "semop_would_block",
        semop(id, &[sembuf(0, -2, nowait)]),
        Errno::EAGAIN,
    );
    c.ret(
        "semop_atomic_pair",
        semop(id, &[sembuf(0, 1, 0), sembuf(1, 1, 0)]),
    )
    .ok();
    c.ret("getval_1", sys::semctl_int(id, 1, libc::GETVAL, 0))
        .ok();
    let me = sc!(libc::SYS_getpid).unwrap_or(0);
    let last = sys::semctl_int(id, 0, libc::GETPID, 0).unwrap_or(-1);
    c.eq("getpid_is_self", last == me, true);
    let ts = sys::ts_ms(10);
    let ops = sembuf(0, -5, 0);
    let r = sys::call(
        libc::SYS_semtimedop,
        &[Arg::i(id), Arg::b(&ops), Arg::n(1), Arg::r(&ts)],
    );
    c.errno("semtimedop_timeout", r, Errno::EAGAIN);
    c.ret("rmid", sys::ipc_rmid(libc::SYS_semctl, id)).ok();
    c.errno(
        "semop_removed",
        semop(id, &[sembuf(0, 1, 0)]),
        Errno::EINVAL,
    );
    Ok(())
}

fn sem_errors(c: &mut Ctx) -> Outcome {
    c.errno(
        "nsems_zero_create",
        sc!(libc::SYS_semget, key_private(), 0, libc::IPC_CREAT | 0o600),
        Errno::EINVAL,
    );
    c.errno(
        "missing_key",
        sc!(libc::SYS_semget, 0x5eed_0002, 1, 0o600),
        Errno::ENOENT,
    );
    let id = sys::int(need(
        "semget",
        sc!(libc::SYS_semget, key_private(), 1, libc::IPC_CREAT | 0o600),
    )?);
    c.errno(
        "semnum_out_of_range",
        semop(id, &[sembuf(5, 1, 0)]),
        Errno::EFBIG,
    );
    c.errno(
        "setval_negative",
        sys::semctl_int(id, 0, libc::SETVAL, -1),
        Errno::ERANGE,
    );
    c.errno("no_ops", semop(id, &[]), Errno::EINVAL);
    need("rmid", sys::ipc_rmid(libc::SYS_semctl, id))?;
    Ok(())
}

fn msgsnd(id: i32, mtype: i64, txt: &[u8], flags: i32) -> sys::R {
    let b = sys::msgbuf(mtype, txt);
    sys::call(
        libc::SYS_msgsnd,
        &[Arg::i(id), Arg::b(&b), Arg::n(txt.len()), Arg::i(flags)],
    )
}

fn msg_basic(c: &mut Ctx) -> Outcome {
    let id = sys::int(c.must(
        "msgget",
        sc!(libc::SYS_msgget, key_private(), libc::IPC_CREAT | 0o600),
    )?);
    c.ret("send_1", msgsnd(id, 1, b"one", 0)).ok();
    c.ret("send_2", msgsnd(id, 2, b"two", 0)).ok();
    c.ret("send_1b", msgsnd(id, 1, b"uno", 0)).ok();
    let st = c.must("ipc_stat", sys::ipc_stat(libc::SYS_msgctl, id))?;
    c.rec("qnum", st.field(80));
    c.rec("cbytes", st.field(72));
    let (t, m) = c.must("recv_type_2", sys::msgrcv(id, 64, 2, 0))?;
    c.rec("by_type", format!("{t} {}", text(&m)));
    let (t, m) = c.must("recv_any", sys::msgrcv(id, 64, 0, 0))?;
    c.rec("first_in_queue", format!("{t} {}", text(&m)));
    c.errno("recv_too_small", sys::msgrcv(id, 1, 0, 0), Errno::E2BIG);
    let (t, m) = c.must(
        "recv_noerror_truncates",
        sys::msgrcv(id, 1, 0, libc::MSG_NOERROR),
    )?;
    c.rec("truncated", format!("{t} {}", text(&m)));
    c.errno(
        "recv_empty_nowait",
        sys::msgrcv(id, 64, 0, libc::IPC_NOWAIT),
        Errno::ENOMSG,
    );
    c.ret("rmid", sys::ipc_rmid(libc::SYS_msgctl, id)).ok();
    Ok(())
}

fn msg_errors(c: &mut Ctx) -> Outcome {
    c.errno(
        "missing_key",
        sc!(libc::SYS_msgget, 0x5eed_0003, 0o600),
        Errno::ENOENT,
    );
    let id = sys::int(need(
        "msgget",
        sc!(libc::SYS_msgget, key_private(), libc::IPC_CREAT | 0o600),
    )?);
    c.errno("send_type_zero", msgsnd(id, 0, b"x", 0), Errno::EINVAL);
    c.errno(
        "recv_bad_id",
        sys::msgrcv(-1, 8, 0, libc::IPC_NOWAIT),
        Errno::EINVAL,
    );
    need("rmid", sys::ipc_rmid(libc::SYS_msgctl, id))?;
    c.errno("send_removed", msgsnd(id, 1, b"x", 0), Errno::EINVAL);
    Ok(())
}

fn mq_name(tag: &str) -> String {
    format!(
        "/capvisor-conf-{tag}-{}",
        sc!(libc::SYS_getpid).unwrap_or(0)
    )
}

fn mq_open(name: &str, flags: i32, attr: Option<&[i64; 8]>) -> sys::R {
    let n = sys::cs(name.trim_start_matches('/'));
    let a = attr.map_or(Arg::I(0), Arg::r);
    sys::call(
        libc::SYS_mq_open,
        &[Arg::s(&n), Arg::i(flags), Arg::u(0o600), a],
    )
}

fn mq_unlink(name: &str) -> sys::R {
    let n = sys::cs(name.trim_start_matches('/'));
    sys::call(libc::SYS_mq_unlink, &[Arg::s(&n)])
}

fn mq_basic(c: &mut Ctx) -> Outcome {
    let name = mq_name("basic");
    let attr = sys::mq_attr(4, 32);
    let r = mq_open(
        &name,
        libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
        Some(&attr),
    );
    if r == Err(Errno::ENOSYS) {
        return Err(Stop::Skip("POSIX message queues not in this kernel".into()));
    }
    let q = sys::int(c.must("mq_open", r)?);
    let send = |m: &[u8], prio: u32| {
        sys::call(
            libc::SYS_mq_timedsend,
            &[
                Arg::i(q),
                Arg::b(m),
                Arg::n(m.len()),
                Arg::u(prio),
                Arg::I(0),
            ],
        )
    };
    c.ret("send_low", send(b"low", 1)).ok();
    c.ret("send_high", send(b"high", 9)).ok();
    let at = c.must("getattr", sys::mq_getattr(q))?;
    c.rec("attr_maxmsg_msgsize_curmsgs", vec![at[1], at[2], at[3]]);
    let (p, m) = c.must("receive_first", sys::mq_receive(q, 32, None))?;
    c.rec("first", format!("{p} {}", text(&m)));
    let (p, m) = c.must("receive_second", sys::mq_receive(q, 32, None))?;
    c.rec("second", format!("{p} {}", text(&m)));
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    c.errno(
        "receive_empty_timeout",
        sys::mq_receive(q, 32, Some(&ts)),
        Errno::ETIMEDOUT,
    );
    c.errno(
        "receive_small_buffer",
        sys::mq_receive(q, 8, Some(&ts)),
        Errno::EMSGSIZE,
    );
    c.ret("unlink", mq_unlink(&name)).ok();
    sys::close(q);
    Ok(())
}

fn mq_errors(c: &mut Ctx) -> Outcome {
    let name = mq_name("errors");
    let r = mq_open(&name, libc::O_RDONLY, None);
    if r == Err(Errno::ENOSYS) {
        return Err(Stop::Skip("POSIX message queues not in this kernel".into()));
    }
    c.errno("open_missing", r, Errno::ENOENT);
    c.errno("unlink_missing", mq_unlink(&name), Errno::ENOENT);
    let bad = sys::mq_attr(0, 32);
    c.errno(
        "bad_attr",
        mq_open(&name, libc::O_CREAT | libc::O_RDWR, Some(&bad)),
        Errno::EINVAL,
    );
    let attr = sys::mq_attr(2, 16);
    let q = sys::int(c.must(
        "mq_open",
        mq_open(&name, libc::O_CREAT | libc::O_RDWR, Some(&attr)),
    )?);
    c.errno(
        "excl_exists",
        mq_open(
            &name,
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
            Some(&attr),
        ),
        Errno::EEXIST,
    );
    let big = [0u8; 64];
    let r = sys::call(
        libc::SYS_mq_timedsend,
        &[Arg::i(q), Arg::b(&big), Arg::n(64), Arg::u(0), Arg::I(0)],
    );
    c.errno("send_too_big", r, Errno::EMSGSIZE);
    need("unlink", mq_unlink(&name))?;
    sys::close(q);
    Ok(())
}
