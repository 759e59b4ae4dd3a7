//! Threads and futexes: clone of threads (through std::thread), tids, futex wait/wake/timeouts, thread-directed
//! signals, per-thread names and masks, exec from a non-main thread.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use nix::errno::Errno;

use super::helper::{need, text};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, sig, sigbit, Handler};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new(
        "thread.spawn_join",
        &["clone", "gettid", "getpid", "futex", "set_robust_list"],
        spawn_join,
    ),
    Case::new("thread.futex_wait_wake", &["futex"], futex_wait_wake),
    Case::new("thread.futex_errors", &["futex"], futex_errors),
    Case::new(
        "thread.tgkill_thread",
        &["tgkill", "rt_sigaction", "rt_sigprocmask"],
        tgkill_thread,
    ),
    Case::new(
        "thread.process_signal_unmasked_thread",
        &["kill", "rt_sigprocmask"],
        process_signal_unmasked_thread,
    ),
    Case::new("thread.many_threads", &["clone", "futex"], many_threads),
    Case::new("thread.names", &["prctl", "openat", "read"], names),
    Case::new("thread.task_dir", &["getdents64", "clone"], task_dir),
    Case::new("thread.robust_list", &["get_robust_list"], robust_list),
    Case::new(
        "thread.exec_from_thread",
        &["execve", "clone", "fork"],
        exec_from_thread,
    ),
    Case::new("thread.std_sync", &["futex", "clone"], std_sync),
    Case::new(
        "thread.exit_group_from_thread",
        &["exit_group", "clone", "fork"],
        exit_group_from_thread,
    ),
    Case::new("thread.futex_waitv", &["futex_waitv", "futex"], futex_waitv),
];

fn tid() -> i64 {
    sc!(libc::SYS_gettid).unwrap_or(0)
}
fn pid() -> i64 {
    sc!(libc::SYS_getpid).unwrap_or(0)
}

fn spawn_join(c: &mut Ctx) -> Outcome {
    let main_tid = tid();
    let main_pid = pid();
    let h = std::thread::spawn(move || (tid() != main_tid, pid() == main_pid, tid() > 0));
    let (other_tid, same_pid, positive) = h
        .join()
        .map_err(|_| crate::case::Stop::Fail("thread panicked".into()))?;
    c.eq("thread_has_own_tid", other_tid, true);
    c.eq("thread_shares_pid", same_pid, true);
    c.eq("tid_positive", positive, true);
    c.eq("main_tid_is_pid", main_tid == main_pid, true);
    Ok(())
}

/// The scheduler state letter of thread `tid` of this process (`S` while blocked in a futex wait).
fn thread_state(tid: i64) -> String {
    sys::read_file(&format!("/proc/self/task/{tid}/stat"))
        .map(|b| {
            let s = text(&b);
            s.get(s.rfind(')').unwrap_or(0) + 2..)
                .unwrap_or("")
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

fn futex_wait_wake(c: &mut Ctx) -> Outcome {
    let word = Arc::new(AtomicU32::new(0));
    let w2 = Arc::clone(&word);
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(tid());
        let mut first = None;
        while w2.load(Ordering::SeqCst) == 0 {
            let r = sys::futex(
                &w2,
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                0,
                Some(5000),
            );
            first.get_or_insert(r);
        }
        first
    });
    let t = rx
        .recv()
        .map_err(|_| crate::case::Stop::Fail("no tid".into()))?;
    // Wake only once the waiter is asleep in the kernel, so the result is deterministic.
    for _ in 0..2000 {
        if thread_state(t) == "S" {
            break;
        }
        let _ = sys::nanosleep(0, 500_000);
    }
    word.store(1, Ordering::SeqCst);
    let woke = sys::futex(&word, libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1, None);
    let first = h
        .join()
        .map_err(|_| crate::case::Stop::Fail("thread panicked".into()))?;
    c.ret("wake", woke).ok();
    c.rec(
        "waiter_first_wait",
        match first {
            Some(Ok(v)) => v.to_string(),
            Some(Err(e)) => crate::case::ename(e),
            None => "never waited".into(),
        },
    );
    Ok(())
}

fn futex_errors(c: &mut Ctx) -> Outcome {
    let word = AtomicU32::new(5);
    c.errno(
        "wait_wrong_value",
        sys::futex(&word, libc::FUTEX_WAIT, 4, Some(100)),
        Errno::EAGAIN,
    );
    let t0 = sys::mono_ns();
    c.errno(
        "wait_timeout",
        sys::futex(
            &word,
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            5,
            Some(20),
        ),
        Errno::ETIMEDOUT,
    );
    c.eq("waited_20ms", sys::mono_ns() - t0 >= 20_000_000, true);
    c.ret("wake_nobody", sys::futex(&word, libc::FUTEX_WAKE, 10, None))
        .ok();
    let raw = sys::call(libc::SYS_futex, &[]);
    c.errno("not_in_call_allowlist", raw, Errno::ENOSYS);
    Ok(())
}

fn tgkill_thread(c: &mut Ctx) -> Outcome {
    sig::reset();
    need(
        "sigaction",
        sys::sigaction(libc::SIGUSR1, Handler::Fn(sig::count), 0, 0),
    )?;
    let (tx, rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        let _ = tx.send(tid());
        let _ = go_rx.recv();
        sig::hits(libc::SIGUSR1)
    });
    let t = rx
        .recv()
        .map_err(|_| crate::case::Stop::Fail("no tid".into()))?;
    c.ret("tgkill", sc!(libc::SYS_tgkill, pid(), t, libc::SIGUSR1))
        .ok();
    for _ in 0..200 {
        if sig::hits(libc::SIGUSR1) > 0 {
            break;
        }
        let _ = sys::nanosleep(0, 1_000_000);
    }
    let _ = go_tx.send(());
    let _ = h.join();
    c.eq("hits", sig::hits(libc::SIGUSR1), 1);
    c.eq("ran_on_target_thread", sig::last_tid() == t, true);
    c.errno(
        "tgkill_exited_thread",
        sc!(libc::SYS_tgkill, pid(), t, 0),
        Errno::ESRCH,
    );
    Ok(())
}

fn process_signal_unmasked_thread(c: &mut Ctx) -> Outcome {
    sig::reset();
    need(
        "sigaction",
        sys::sigaction(libc::SIGUSR2, Handler::Fn(sig::count), 0, 0),
    )?;
    need(
        "block in main",
        sys::sigprocmask(libc::SIG_BLOCK, Some(sigbit(libc::SIGUSR2))),
    )?;
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = sys::sigprocmask(libc::SIG_UNBLOCK, Some(sigbit(libc::SIGUSR2)));
        let _ = tx.send(tid());
        for _ in 0..2000 {
            if sig::hits(libc::SIGUSR2) > 0 {
                break;
            }
            let _ = sys::nanosleep(0, 1_000_000);
        }
    });
    let t = rx
        .recv()
        .map_err(|_| crate::case::Stop::Fail("no tid".into()))?;
    c.ret("kill_process", sc!(libc::SYS_kill, pid(), libc::SIGUSR2))
        .ok();
    let _ = h.join();
    c.eq("hits", sig::hits(libc::SIGUSR2), 1);
    c.eq("delivered_to_unmasked_thread", sig::last_tid() == t, true);
    Ok(())
}

fn many_threads(c: &mut Ctx) -> Outcome {
    let counter = Arc::new(AtomicU32::new(0));
    let hs: Vec<_> = (0..16)
        .map(|_| {
            let k = Arc::clone(&counter);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    k.fetch_add(1, Ordering::SeqCst);
                }
                tid()
            })
        })
        .collect();
    let mut tids: Vec<i64> = hs.into_iter().filter_map(|h| h.join().ok()).collect();
    tids.sort_unstable();
    tids.dedup();
    c.eq("joined_distinct", tids.len(), 16);
    c.eq("total", counter.load(Ordering::SeqCst), 16_000);
    Ok(())
}

fn names(c: &mut Ctx) -> Outcome {
    let (tx, rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        let _ = sys::set_name("worker-1");
        let _ = tx.send(tid());
        let _ = go_rx.recv();
    });
    let t = rx
        .recv()
        .map_err(|_| crate::case::Stop::Fail("no tid".into()))?;
    let comm = c.must(
        "read_task_comm",
        sys::read_file(&format!("/proc/self/task/{t}/comm")),
    )?;
    c.rec("thread_comm", text(&comm).trim().to_owned());
    let main = c.must("read_main_comm", sys::read_file("/proc/thread-self/comm"))?;
    c.rec("main_comm", text(&main).trim().to_owned());
    let _ = go_tx.send(());
    let _ = h.join();
    Ok(())
}

fn task_dir(c: &mut Ctx) -> Outcome {
    let (tx, rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        let _ = tx.send(tid());
        let _ = go_rx.recv();
    });
    let t = rx
        .recv()
        .map_err(|_| crate::case::Stop::Fail("no tid".into()))?;
    let names = c.must("list_task", sys::read_dir_names("/proc/self/task"))?;
    let mut want = vec![pid().to_string(), t.to_string()];
    want.sort();
    c.eq("tasks_are_main_and_thread", names == want, true);
    let status = c.must("read_status", sys::read_file("/proc/self/status"))?;
    let threads = text(&status)
        .lines()
        .find(|l| l.starts_with("Threads:"))
        .map(|l| l.split_whitespace().last().unwrap_or("").to_owned());
    c.rec("status_threads", threads);
    let _ = go_tx.send(());
    let _ = h.join();
    Ok(())
}

fn robust_list(c: &mut Ctx) -> Outcome {
    let (set, len) = c.must("get_robust_list", sys::get_robust_list())?;
    c.rec("registered", set);
    c.rec("len", len);
    let h = std::thread::spawn(|| sys::get_robust_list().map(|(s, _)| s));
    let r = h
        .join()
        .map_err(|_| crate::case::Stop::Fail("thread panicked".into()))?;
    c.rec("thread_registered", r.unwrap_or(false));
    Ok(())
}

fn exec_from_thread(c: &mut Ctx) -> Outcome {
    let exe = c.exe().to_owned();
    let pid = need(
        "fork",
        sys::fork_run(move || {
            let h = std::thread::spawn(move || {
                let r = sys::execve(&exe, &["probe", "--helper", "exit", "6"], &[]);
                100 + sys::errno_of(r)
            });
            let code = h.join().unwrap_or(99);
            code + 50
        }),
    )?;
    c.rec("status", sys::reap(pid));
    Ok(())
}

fn std_sync(c: &mut Ctx) -> Outcome {
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let p = Arc::clone(&pair);
            std::thread::spawn(move || {
                for _ in 0..500 {
                    if let Ok(mut g) = p.0.lock() {
                        *g += 1;
                    }
                }
                p.1.notify_all();
            })
        })
        .collect();
    {
        let (m, cv) = &*pair;
        let mut g = m
            .lock()
            .map_err(|_| crate::case::Stop::Fail("poisoned".into()))?;
        while *g < 2000 {
            let (ng, _) = cv
                .wait_timeout(g, std::time::Duration::from_secs(5))
                .map_err(|_| crate::case::Stop::Fail("poisoned".into()))?;
            g = ng;
        }
        c.eq("count", *g, 2000);
    }
    for h in hs {
        let _ = h.join();
    }
    Ok(())
}

fn exit_group_from_thread(c: &mut Ctx) -> Outcome {
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _h = std::thread::spawn(|| {
                let _ = sc!(libc::SYS_exit_group, 12);
            });
            for _ in 0..500 {
                let _ = sys::nanosleep(0, 10_000_000);
            }
            1
        }),
    )?;
    c.rec("status", sys::reap(pid));
    Ok(())
}

fn futex_waitv(c: &mut Ctx) -> Outcome {
    let a = AtomicU32::new(1);
    let b = AtomicU32::new(2);
    // struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 reserved; }, FUTEX2_SIZE_U32 = 2, FUTEX2_PRIVATE = 128.
    let waiter = |w: &AtomicU32, val: u64| -> [u64; 3] { [val, w.as_ptr() as u64, 2 | 128] };
    let v = [waiter(&a, 1), waiter(&b, 2)];
    let now = need("clock", sys::clock_gettime(libc::CLOCK_MONOTONIC))?;
    let deadline = libc::timespec {
        tv_sec: now.tv_sec,
        tv_nsec: now.tv_nsec,
    };
    let r = sys::call(
        libc::SYS_futex_waitv,
        &[
            sys::Arg::r(&v),
            sys::Arg::n(2),
            sys::Arg::i(0),
            sys::Arg::r(&deadline),
            sys::Arg::i(libc::CLOCK_MONOTONIC),
        ],
    );
    if r == Err(Errno::ENOSYS) {
        return Err(crate::case::Stop::Skip(
            "futex_waitv not in this kernel".into(),
        ));
    }
    c.errno("timeout_in_past", r, Errno::ETIMEDOUT);
    let stale = [waiter(&a, 9), waiter(&b, 2)];
    let r = sys::call(
        libc::SYS_futex_waitv,
        &[
            sys::Arg::r(&stale),
            sys::Arg::n(2),
            sys::Arg::i(0),
            sys::Arg::r(&deadline),
            sys::Arg::i(libc::CLOCK_MONOTONIC),
        ],
    );
    c.errno("value_mismatch", r, Errno::EAGAIN);
    let r = sys::call(
        libc::SYS_futex_waitv,
        &[
            sys::Arg::r(&v),
            sys::Arg::n(0),
            sys::Arg::i(0),
            sys::Arg::I(0),
            sys::Arg::i(0),
        ],
    );
    c.errno("zero_waiters", r, Errno::EINVAL);
    let r = sys::call(
        libc::SYS_futex_waitv,
        &[
            sys::Arg::r(&v),
            sys::Arg::n(2),
            sys::Arg::i(1),
            sys::Arg::I(0),
            sys::Arg::i(0),
        ],
    );
    c.errno("bad_flags", r, Errno::EINVAL);
    Ok(())
}
