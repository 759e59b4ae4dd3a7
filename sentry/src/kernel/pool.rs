//! The worker pool: exactly one thread at a time (the leader) waits in the platform's `next_trap` and serves what it
//! receives inline. With one waiter the kernel's synchronous wake-up runs the leader on the trapping task's CPU and
//! hands the CPU straight back on the answer, so a mediated syscall costs no cross-CPU wake-up. (Several threads
//! blocked in NOTIF_RECV would all be woken for each notification.)
//!
//! A handler about to block (a FIFO open waiting for its other end) calls [`handoff`] first: a waiting follower becomes
//! the leader, so the rest of the sandbox keeps being served, and the blocked thread rejoins the followers afterwards.
//! A new follower is started whenever a thread becomes leader with none left waiting.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::sync::{Arc, Condvar, Mutex};

use super::Kernel;

const MAX_WORKERS: usize = 256;

#[derive(Debug, Default)]
struct State {
    leader: bool,
    waiting: usize,
    total: usize,
}

#[derive(Debug, Default)]
pub struct Pool {
    state: Mutex<State>,
    cv: Condvar,
}

thread_local! {
    static LEADER: Cell<bool> = const { Cell::new(false) };
    /// The kernel this worker serves, for [`handoff_current`].
    static KERNEL: std::cell::RefCell<std::sync::Weak<Kernel>> = const { std::cell::RefCell::new(std::sync::Weak::new()) };
}

/// [`handoff`] for code that has no `&Kernel` at hand (the policy, before it waits for an approval).
pub fn handoff_current() {
    if let Some(k) = KERNEL.with(|k| k.borrow().upgrade()) {
        handoff(&k);
    }
}

/// Called by a handler before an operation that may block: leadership passes to a follower. A no-op outside the
/// pool's leader (unit tests, or a thread that already handed off).
pub fn handoff(k: &Kernel) {
    if LEADER.with(Cell::get) {
        LEADER.with(|l| l.set(false));
        if let Ok(mut s) = k.pool.state.lock() {
            s.leader = false;
            k.pool.cv.notify_one();
        }
    }
}

impl Pool {
    /// Starts the first two workers (a leader and one follower).
    pub fn start(k: &Arc<Kernel>) {
        for _ in 0..2 {
            if let Ok(mut s) = k.pool.state.lock() {
                s.total += 1;
            }
            spawn(Arc::clone(k));
        }
    }
}

fn spawn(k: Arc<Kernel>) {
    let k2 = Arc::clone(&k);
    let started = std::thread::Builder::new()
        .name("sentry-worker".into())
        .spawn(move || worker(k2));
    if started.is_err() {
        if let Ok(mut s) = k.pool.state.lock() {
            s.total -= 1;
        }
    }
}

fn worker(k: Arc<Kernel>) {
    // Same discretionary access checks as the agent, which has no capabilities.
    let _ = crate::sys::drop_effective_caps_this_thread();
    KERNEL.with(|slot| *slot.borrow_mut() = Arc::downgrade(&k));
    loop {
        // Wait to become the leader.
        let spawn_follower = {
            let Ok(mut s) = k.pool.state.lock() else {
                return;
            };
            s.waiting += 1;
            while s.leader {
                s = match k.pool.cv.wait(s) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
            s.waiting -= 1;
            s.leader = true;
            let need = s.waiting == 0 && s.total < MAX_WORKERS;
            if need {
                s.total += 1;
            }
            need
        };
        if spawn_follower {
            spawn(Arc::clone(&k));
        }
        LEADER.with(|l| l.set(true));
        // Serve until a handler hands leadership off, or the sandbox is over.
        while LEADER.with(Cell::get) {
            match k.platform.next_trap() {
                Ok(Some(n)) => crate::syscalls::serve(&k, &n),
                Ok(None) | Err(_) => {
                    LEADER.with(|l| l.set(false));
                    if let Ok(mut s) = k.pool.state.lock() {
                        s.leader = false;
                        s.total -= 1;
                        k.pool.cv.notify_one();
                    }
                    return;
                }
            }
        }
    }
}
