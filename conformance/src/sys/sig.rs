//! Signal handlers the cases install, and what they observed. Handlers only touch atomics and make raw syscalls,
//! so they are async-signal-safe.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicUsize, Ordering};

static HITS: [AtomicU32; 65] = [const { AtomicU32::new(0) }; 65];
static INFO: [AtomicI32; 8] = [const { AtomicI32::new(0) }; 8];
static ALT_LO: AtomicUsize = AtomicUsize::new(0);
static ALT_HI: AtomicUsize = AtomicUsize::new(0);
static ON_ALT: AtomicBool = AtomicBool::new(false);
static TID: AtomicI64 = AtomicI64::new(0);

fn note(sig: i32) {
    if let Some(h) = usize::try_from(sig).ok().and_then(|s| HITS.get(s)) {
        h.fetch_add(1, Ordering::SeqCst);
    }
    TID.store(
        super::raw::call(libc::SYS_gettid, &[]).unwrap_or(0),
        Ordering::SeqCst,
    );
    let marker = 0u8;
    let here = std::ptr::from_ref(&marker) as usize;
    let (lo, hi) = (ALT_LO.load(Ordering::SeqCst), ALT_HI.load(Ordering::SeqCst));
    ON_ALT.store(lo != 0 && here >= lo && here < hi, Ordering::SeqCst);
}

/// A handler that counts deliveries per signal (and notes the thread and stack it ran on).
pub extern "C" fn count(sig: i32) {
    note(sig);
}

/// An SA_SIGINFO handler that also keeps si_signo, si_code, si_pid (raw) and the int si_value.
pub extern "C" fn info(sig: i32, si: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    note(sig);
    if si.is_null() {
        return;
    }
    let words = si.cast::<i32>();
    for (i, slot) in INFO.iter().enumerate() {
        // SAFETY: the kernel passes a valid, 128-byte siginfo_t; `i < 8`, so the offset stays in its first 32 bytes.
        let p = unsafe { words.add(i) };
        // SAFETY: `p` points at an aligned int inside that siginfo_t.
        let v = unsafe { p.read() };
        slot.store(v, Ordering::SeqCst);
    }
}

/// How many times `sig` was delivered to `count`/`info` since the last `reset`.
pub fn hits(sig: i32) -> u32 {
    usize::try_from(sig)
        .ok()
        .and_then(|s| HITS.get(s))
        .map_or(0, |h| h.load(Ordering::SeqCst))
}

/// The first eight ints of the last siginfo `info` saw: [0] signo, [2] code, [4] pid, [5] uid, [6] value/status.
pub fn last_info() -> [i32; 8] {
    let mut out = [0; 8];
    for (o, s) in out.iter_mut().zip(INFO.iter()) {
        *o = s.load(Ordering::SeqCst);
    }
    out
}

/// The thread id the last handler ran on.
pub fn last_tid() -> i64 {
    TID.load(Ordering::SeqCst)
}

/// Whether the last handler ran inside the range given to `expect_altstack`.
pub fn ran_on_altstack() -> bool {
    ON_ALT.load(Ordering::SeqCst)
}

/// Tells the handlers where the alternate stack is.
pub fn expect_altstack(range: (usize, usize)) {
    ALT_LO.store(range.0, Ordering::SeqCst);
    ALT_HI.store(range.1, Ordering::SeqCst);
}

/// Clears all counters.
pub fn reset() {
    for h in &HITS {
        h.store(0, Ordering::SeqCst);
    }
    for s in &INFO {
        s.store(0, Ordering::SeqCst);
    }
    ON_ALT.store(false, Ordering::SeqCst);
}
