//! Wrappers for the remaining syscalls that write into the caller's memory: sysinfo, getcpu, scheduler
//! attributes, legacy getdents, preadv, epoll_pwait2, sendmmsg/recvmmsg, cachestat, lsm_list_modules.

use nix::errno::Errno;

use super::raw::{a, ai, pm, sc6, ulen, R};

/// sysinfo(2): (uptime, totalram, mem_unit, procs).
pub fn sysinfo() -> Result<(i64, u64, u32, u16), Errno> {
    let mut w = [0u64; 16];
    // SAFETY: struct sysinfo is 112 bytes on x86_64; `w` is 128 writable bytes.
    unsafe { sc6(libc::SYS_sysinfo, [pm(&mut w), 0, 0, 0, 0, 0]) }?;
    let uptime = i64::from_ne_bytes(w[0].to_ne_bytes());
    let procs = u16::try_from(w[10] & 0xffff).unwrap_or(0);
    let mem_unit = u32::try_from(w[13] & 0xffff_ffff).unwrap_or(0);
    Ok((uptime, w[4], mem_unit, procs))
}

/// getcpu(2): (cpu, node).
pub fn getcpu() -> Result<(u32, u32), Errno> {
    let (mut cpu, mut node) = (0u32, 0u32);
    // SAFETY: both pointers are writable unsigned ints; the cache pointer is NULL.
    unsafe { sc6(libc::SYS_getcpu, [pm(&mut cpu), pm(&mut node), 0, 0, 0, 0]) }?;
    Ok((cpu, node))
}

/// sched_rr_get_interval(2) for the caller.
pub fn sched_rr_get_interval() -> Result<libc::timespec, Errno> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a writable timespec.
    unsafe { sc6(libc::SYS_sched_rr_get_interval, [0, pm(&mut t), 0, 0, 0, 0]) }?;
    Ok(t)
}

/// sched_getattr(2) for the caller: (size, policy, nice).
pub fn sched_getattr() -> Result<(u32, u32, i32), Errno> {
    let mut b = [0u32; 32];
    // SAFETY: `b` is 128 writable bytes and the size passed is 128, so the kernel writes at most that.
    unsafe { sc6(libc::SYS_sched_getattr, [0, pm(&mut b), 128, 0, 0, 0]) }?;
    Ok((b[0], b[1], i32::from_ne_bytes(b[4].to_ne_bytes())))
}

/// sched_setattr(2) for the caller with a policy and nice value.
pub fn sched_setattr(policy: u32, nice: i32, prio: u32) -> R {
    let mut b = [0u32; 12];
    b[0] = 48;
    b[1] = policy;
    b[4] = u32::from_ne_bytes(nice.to_ne_bytes());
    b[5] = prio;
    // SAFETY: `b` is a 48-byte struct sched_attr whose size field says 48; the kernel reads it and, on E2BIG
    // only, writes the size field back inside it.
    unsafe { sc6(libc::SYS_sched_setattr, [0, pm(&mut b), 0, 0, 0, 0]) }
}

/// sched_setscheduler(2) / sched_setparam(2) for the caller.
pub fn sched_set(policy: Option<i32>, prio: i32) -> R {
    let p = prio;
    let pp = std::ptr::from_ref(&p) as u64;
    match policy {
        // SAFETY: `p` is a readable struct sched_param (one int).
        Some(pol) => unsafe { sc6(libc::SYS_sched_setscheduler, [0, ai(pol), pp, 0, 0, 0]) },
        // SAFETY: as above.
        None => unsafe { sc6(libc::SYS_sched_setparam, [0, pp, 0, 0, 0, 0]) },
    }
}

/// The legacy getdents(2) on a directory fd: the names, sorted.
pub fn getdents_legacy(fd: i32) -> Result<Vec<String>, Errno> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: `buf` is writable for its full length, which is the count passed.
        let n = unsafe {
            sc6(
                libc::SYS_getdents,
                [ai(fd), buf.as_mut_ptr() as u64, ulen(buf.len()), 0, 0, 0],
            )
        }?;
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 {
            break;
        }
        // struct linux_dirent { unsigned long d_ino; unsigned long d_off; unsigned short d_reclen; char d_name[]; }
        let mut off = 0;
        while off + 18 <= n {
            let reclen = usize::from(u16::from_ne_bytes([buf[off + 16], buf[off + 17]]));
            if reclen == 0 {
                break;
            }
            let name = &buf[off + 18..(off + reclen).min(n)];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            out.push(String::from_utf8_lossy(&name[..end]).into_owned());
            off += reclen;
        }
    }
    out.sort();
    Ok(out)
}

/// preadv(2) into buffers of the given sizes at `off`.
pub fn preadv(fd: i32, sizes: &[usize], off: i64) -> Result<(i64, Vec<Vec<u8>>), Errno> {
    let mut bufs: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0u8; n]).collect();
    let iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: each iovec describes one of `bufs`, writable for its own length; `iov.len()` entries are passed.
    let n = unsafe {
        sc6(
            libc::SYS_preadv,
            [ai(fd), iov.as_ptr() as u64, ulen(iov.len()), a(off), 0, 0],
        )
    }?;
    Ok((n, bufs))
}

/// epoll_pwait2(2) with a timeout in ms (None: forever).
pub fn epoll_pwait2(
    epfd: i32,
    max: usize,
    timeout_ms: Option<i64>,
) -> Result<Vec<(u32, u64)>, Errno> {
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; max.max(1)];
    let ts = timeout_ms.map(super::time::ts_ms);
    let pt = ts.as_ref().map_or(0, |t| std::ptr::from_ref(t) as u64);
    // SAFETY: `evs` holds `max` (at least one) writable epoll_events, the count passed; `pt` is NULL or a readable
    // timespec; the sigmask is NULL.
    let n = unsafe {
        sc6(
            libc::SYS_epoll_pwait2,
            [ai(epfd), evs.as_mut_ptr() as u64, ulen(max), pt, 0, 8],
        )
    }?;
    evs.truncate(usize::try_from(n).unwrap_or(0));
    Ok(evs.iter().map(|e| ({ e.events }, { e.u64 })).collect())
}

/// sendmmsg(2) of one datagram per buffer; returns the count sent and each msg_len.
pub fn sendmmsg(fd: i32, msgs: &[&[u8]]) -> Result<(i64, Vec<u32>), Errno> {
    let mut iovs: Vec<libc::iovec> = msgs
        .iter()
        .map(|m| libc::iovec {
            iov_base: m.as_ptr().cast_mut().cast(),
            iov_len: m.len(),
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .map(|iov| {
            // SAFETY: libc::msghdr is a plain C struct; all-zero is a valid value.
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_iov = std::ptr::from_mut(iov);
            h.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            }
        })
        .collect();
    // SAFETY: `hdrs` holds `hdrs.len()` mmsghdrs, each pointing at one iovec of `iovs` that describes readable
    // bytes of `msgs`; the kernel reads them and writes only each msg_len, inside `hdrs`.
    let n = unsafe {
        sc6(
            libc::SYS_sendmmsg,
            [ai(fd), hdrs.as_mut_ptr() as u64, ulen(hdrs.len()), 0, 0, 0],
        )
    }?;
    Ok((n, hdrs.iter().map(|h| h.msg_len).collect()))
}

/// recvmmsg(2) of up to `count` datagrams of up to `size` bytes, non-blocking.
pub fn recvmmsg(fd: i32, count: usize, size: usize, flags: i32) -> Result<Vec<Vec<u8>>, Errno> {
    let mut bufs: Vec<Vec<u8>> = (0..count).map(|_| vec![0u8; size]).collect();
    let mut iovs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .map(|iov| {
            // SAFETY: libc::msghdr is a plain C struct; all-zero is a valid value.
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_iov = std::ptr::from_mut(iov);
            h.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            }
        })
        .collect();
    // SAFETY: each mmsghdr points at one iovec describing one writable buffer of `bufs` (its own length); the
    // kernel writes data there and msg_len/msg_flags inside `hdrs`; the timeout is NULL.
    let n = unsafe {
        sc6(
            libc::SYS_recvmmsg,
            [
                ai(fd),
                hdrs.as_mut_ptr() as u64,
                ulen(hdrs.len()),
                ai(flags),
                0,
                0,
            ],
        )
    }?;
    let n = usize::try_from(n).unwrap_or(0);
    Ok(hdrs
        .iter()
        .zip(bufs.iter())
        .take(n)
        .map(|(h, b)| b[..usize::try_from(h.msg_len).unwrap_or(0).min(size)].to_vec())
        .collect())
}

/// cachestat(2) (number 451) of a whole file: (cache, dirty) pages.
pub fn cachestat(fd: i32) -> Result<(u64, u64), Errno> {
    let range = [0u64, 0u64];
    let mut st = [0u64; 5];
    // SAFETY: `range` is a readable struct cachestat_range (16 bytes); `st` a writable struct cachestat (40 bytes).
    unsafe {
        sc6(
            451,
            [
                ai(fd),
                std::ptr::from_ref(&range) as u64,
                pm(&mut st),
                0,
                0,
                0,
            ],
        )
    }?;
    Ok((st[0], st[1]))
}
