//! System V IPC and POSIX message queue wrappers that write into the caller's memory or map memory. Kernel
//! structs are read back from zeroed byte buffers larger than the x86_64 layouts (shmid64_ds 112 bytes,
//! msqid64_ds 120, semid64_ds 104, mq_attr 64), at the offsets of those layouts.

use nix::errno::Errno;

use super::raw::{a, ai, sc6, ulen, R};

/// An IPC_STAT result: the raw struct bytes.
#[derive(Debug, Clone)]
pub struct IpcStat(pub Vec<u8>);

impl IpcStat {
    fn u64_at(&self, off: usize) -> u64 {
        self.0
            .get(off..off + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_ne_bytes)
    }
    fn u32_at(&self, off: usize) -> u32 {
        self.0
            .get(off..off + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_ne_bytes)
    }
    /// ipc64_perm.mode permission bits.
    pub fn mode(&self) -> u32 {
        self.u32_at(20) & 0o777
    }
    /// ipc64_perm.uid.
    pub fn uid(&self) -> u32 {
        self.u32_at(4)
    }
    /// A u64 field at `off` (shm_segsz 48, shm_nattch 88; msg_qnum 80, msg_cbytes 72; sem_nsems 80).
    pub fn field(&self, off: usize) -> u64 {
        self.u64_at(off)
    }
}

/// shmctl/msgctl/semctl with IPC_STAT into a 256-byte buffer. `nr` selects the call; `semnum` is used by semctl.
pub fn ipc_stat(nr: i64, id: i32) -> Result<IpcStat, Errno> {
    let mut b = vec![0u8; 256];
    let p = b.as_mut_ptr() as u64;
    let args = match nr {
        libc::SYS_shmctl | libc::SYS_msgctl => [ai(id), ai(libc::IPC_STAT), p, 0, 0, 0],
        libc::SYS_semctl => [ai(id), 0, ai(libc::IPC_STAT), p, 0, 0],
        _ => return Err(Errno::EINVAL),
    };
    // SAFETY: IPC_STAT writes one shmid64_ds/msqid64_ds/semid64_ds (at most 120 bytes) through the pointer, which
    // designates `b`, 256 writable bytes that outlive the call (semctl's union arg is the pointer itself).
    unsafe { sc6(nr, args) }?;
    Ok(IpcStat(b))
}

/// A System V shared memory attachment (shmat with a kernel-chosen address), detached on drop.
#[derive(Debug)]
pub struct Shm {
    addr: usize,
    len: usize,
}

/// shmat(id, NULL, flags) for a segment of `len` bytes.
pub fn shmat(id: i32, flags: i32, len: usize) -> Result<Shm, Errno> {
    // SAFETY: a NULL address lets the kernel pick a free range, so no existing mapping is replaced.
    let r = unsafe { sc6(libc::SYS_shmat, [ai(id), 0, ai(flags), 0, 0, 0]) }?;
    Ok(Shm {
        addr: usize::try_from(r).unwrap_or(0),
        len,
    })
}

impl Shm {
    /// Writes `data` at `off` (the attachment must be writable).
    pub fn write(&self, off: usize, data: &[u8]) {
        if off + data.len() > self.len {
            return;
        }
        for (i, b) in data.iter().enumerate() {
            // SAFETY: the byte lies inside this live attachment, which no Rust reference points into.
            unsafe { std::ptr::write_volatile((self.addr + off + i) as *mut u8, *b) };
        }
    }

    /// Reads `n` bytes at `off`.
    pub fn read(&self, off: usize, n: usize) -> Vec<u8> {
        let n = n.min(self.len.saturating_sub(off));
        (0..n)
            .map(|i| {
                // SAFETY: the byte lies inside this live attachment.
                unsafe { std::ptr::read_volatile((self.addr + off + i) as *const u8) }
            })
            .collect()
    }

    /// shmdt(2).
    pub fn detach(self) -> R {
        let r = shmdt_addr(self.addr);
        std::mem::forget(self);
        r
    }
}

fn shmdt_addr(addr: usize) -> R {
    // SAFETY: `addr` is the start of an attachment this process made with shmat and no Rust reference points
    // into it; shmdt unmaps only that attachment.
    unsafe { sc6(libc::SYS_shmdt, [ulen(addr), 0, 0, 0, 0, 0]) }
}

impl Drop for Shm {
    fn drop(&mut self) {
        let _ = shmdt_addr(self.addr);
    }
}

/// shmdt of an address that was never attached: EINVAL without touching memory.
pub fn shmdt_unattached() -> R {
    // SAFETY: address 4096 lies below mmap_min_addr, so nothing can be attached there and nothing is unmapped.
    unsafe { sc6(libc::SYS_shmdt, [4096, 0, 0, 0, 0, 0]) }
}

/// msgrcv(2) of at most `size` bytes of text: (type, text).
pub fn msgrcv(id: i32, size: usize, mtype: i64, flags: i32) -> Result<(i64, Vec<u8>), Errno> {
    let mut b = vec![0u8; size + 8];
    // SAFETY: msgrcv writes a long mtype and at most `size` bytes of text, which fit in `b` (size + 8 bytes).
    let n = unsafe {
        sc6(
            libc::SYS_msgrcv,
            [
                ai(id),
                b.as_mut_ptr() as u64,
                ulen(size),
                a(mtype),
                ai(flags),
                0,
            ],
        )
    }?;
    let ty = i64::from_ne_bytes(b[..8].try_into().unwrap_or([0; 8]));
    let n = usize::try_from(n).unwrap_or(0).min(size);
    Ok((ty, b[8..8 + n].to_vec()))
}

/// A msgbuf for msgsnd: mtype followed by the text.
pub fn msgbuf(mtype: i64, text: &[u8]) -> Vec<u8> {
    let mut v = mtype.to_ne_bytes().to_vec();
    v.extend_from_slice(text);
    v
}

/// mq_timedreceive(2) into a buffer of `len` bytes: (priority, message).
pub fn mq_receive(
    mqd: i32,
    len: usize,
    timeout: Option<&libc::timespec>,
) -> Result<(u32, Vec<u8>), Errno> {
    let mut b = vec![0u8; len];
    let mut prio = 0u32;
    let pt = timeout.map_or(0, |t| std::ptr::from_ref(t) as u64);
    // SAFETY: `b` is writable for `len` bytes, the length passed; `prio` is a writable unsigned int; `pt` is NULL
    // or a readable timespec.
    let n = unsafe {
        sc6(
            libc::SYS_mq_timedreceive,
            [
                ai(mqd),
                b.as_mut_ptr() as u64,
                ulen(len),
                std::ptr::from_mut(&mut prio) as u64,
                pt,
                0,
            ],
        )
    }?;
    b.truncate(usize::try_from(n).unwrap_or(0));
    Ok((prio, b))
}

/// mq_getsetattr(2) query: (flags, maxmsg, msgsize, curmsgs).
pub fn mq_getattr(mqd: i32) -> Result<[i64; 4], Errno> {
    let mut attr = [0i64; 8];
    // SAFETY: `attr` is a writable struct mq_attr (64 bytes); the new-attributes pointer is NULL.
    unsafe {
        sc6(
            libc::SYS_mq_getsetattr,
            [ai(mqd), 0, std::ptr::from_mut(&mut attr) as u64, 0, 0, 0],
        )
    }?;
    Ok([attr[0], attr[1], attr[2], attr[3]])
}

/// A struct mq_attr for mq_open.
pub fn mq_attr(maxmsg: i64, msgsize: i64) -> [i64; 8] {
    [0, maxmsg, msgsize, 0, 0, 0, 0, 0]
}

/// IPC_RMID through shmctl or msgctl (no buffer), or semctl.
pub fn ipc_rmid(nr: i64, id: i32) -> R {
    let args = match nr {
        libc::SYS_shmctl | libc::SYS_msgctl => [ai(id), ai(libc::IPC_RMID), 0, 0, 0, 0],
        libc::SYS_semctl => [ai(id), 0, ai(libc::IPC_RMID), 0, 0, 0],
        _ => return Err(Errno::EINVAL),
    };
    // SAFETY: IPC_RMID takes no buffer; the pointer argument is NULL.
    unsafe { sc6(nr, args) }
}

/// semctl(2) with a command whose argument is an int or unused (GETVAL, SETVAL, GETNCNT, GETZCNT, GETPID).
pub fn semctl_int(id: i32, num: i32, cmd: i32, val: i32) -> R {
    const OK: &[i32] = &[
        libc::GETVAL,
        libc::SETVAL,
        libc::GETNCNT,
        libc::GETZCNT,
        libc::GETPID,
    ];
    if !OK.contains(&cmd) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: these commands take an int in the union argument (or ignore it); nothing is dereferenced.
    unsafe { sc6(libc::SYS_semctl, [ai(id), ai(num), ai(cmd), ai(val), 0, 0]) }
}
