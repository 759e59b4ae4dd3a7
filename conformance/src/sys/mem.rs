//! Memory-map wrappers. A `Map` owns a mapping the probe created; every operation stays inside it, so no call can
//! unmap or change memory Rust uses elsewhere. Accesses that are meant to fault (after PROT_NONE, past EOF) are made
//! only in forked children.

use nix::errno::Errno;

use super::raw::{ai, sc6, ulen, R};

/// One mapping created by `mmap`, unmapped on drop.
#[derive(Debug)]
pub struct Map {
    addr: usize,
    len: usize,
}

/// The page size.
pub fn page() -> usize {
    4096
}

/// mmap(2) at a kernel-chosen address. MAP_FIXED is refused here (see `Map::remap_fixed_noreplace`).
pub fn mmap(len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> Result<Map, Errno> {
    if flags & libc::MAP_FIXED != 0 || flags & libc::MAP_FIXED_NOREPLACE != 0 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: with a NULL hint and no MAP_FIXED the kernel picks a free range, so no existing memory is replaced.
    let r = unsafe {
        sc6(
            libc::SYS_mmap,
            [
                0,
                ulen(len),
                ai(prot),
                ai(flags),
                ai(fd),
                super::raw::a(off),
            ],
        )
    }?;
    Ok(Map {
        addr: usize::try_from(r).unwrap_or(0),
        len,
    })
}

impl Map {
    /// The mapping's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never, for a successful mmap).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The start address (never record it: it varies).
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// Writes `data` at `off`; the range must lie inside the mapping and be writable.
    pub fn write(&self, off: usize, data: &[u8]) {
        if off + data.len() > self.len {
            return;
        }
        for (i, b) in data.iter().enumerate() {
            // SAFETY: `off + i < len`, so the byte lies inside this live mapping; a volatile write tolerates other
            // processes (shared mappings) changing it.
            unsafe { std::ptr::write_volatile((self.addr + off + i) as *mut u8, *b) };
        }
    }

    /// Reads `n` bytes at `off`; the range must lie inside the mapping and be readable.
    pub fn read(&self, off: usize, n: usize) -> Vec<u8> {
        let n = n.min(self.len.saturating_sub(off));
        (0..n)
            .map(|i| {
                // SAFETY: `off + i < len`, so the byte lies inside this live mapping.
                unsafe { std::ptr::read_volatile((self.addr + off + i) as *const u8) }
            })
            .collect()
    }

    /// mprotect(2) on `[off, off+len)` of this mapping.
    pub fn mprotect(&self, off: usize, len: usize, prot: i32) -> R {
        if off + len > self.len {
            return Err(Errno::EINVAL);
        }
        // SAFETY: the range lies inside this mapping, which no Rust reference points into.
        unsafe {
            sc6(
                libc::SYS_mprotect,
                [ulen(self.addr + off), ulen(len), ai(prot), 0, 0, 0],
            )
        }
    }

    /// madvise(2) on `[off, off+len)` of this mapping.
    pub fn madvise(&self, off: usize, len: usize, advice: i32) -> R {
        if off + len > self.len {
            return Err(Errno::EINVAL);
        }
        // SAFETY: the range lies inside this mapping, which no Rust reference points into; MADV_DONTNEED and the
        // like only affect its contents.
        unsafe {
            sc6(
                libc::SYS_madvise,
                [ulen(self.addr + off), ulen(len), ai(advice), 0, 0, 0],
            )
        }
    }

    /// msync(2) on the whole mapping.
    pub fn msync(&self, flags: i32) -> R {
        // SAFETY: the range is exactly this mapping.
        unsafe {
            sc6(
                libc::SYS_msync,
                [ulen(self.addr), ulen(self.len), ai(flags), 0, 0, 0],
            )
        }
    }

    /// mlock(2) / munlock(2) on the whole mapping.
    pub fn mlock(&self, lock: bool) -> R {
        let nr = if lock {
            libc::SYS_mlock
        } else {
            libc::SYS_munlock
        };
        // SAFETY: the range is exactly this mapping; locking changes residency only.
        unsafe { sc6(nr, [ulen(self.addr), ulen(self.len), 0, 0, 0, 0]) }
    }

    /// mincore(2): one residency byte per page.
    pub fn mincore(&self) -> Result<Vec<u8>, Errno> {
        let pages = self.len.div_ceil(page());
        let mut v = vec![0u8; pages];
        // SAFETY: the range is this mapping; `v` has one writable byte per page of it.
        unsafe {
            sc6(
                libc::SYS_mincore,
                [
                    ulen(self.addr),
                    ulen(self.len),
                    v.as_mut_ptr() as u64,
                    0,
                    0,
                    0,
                ],
            )
        }?;
        Ok(v)
    }

    /// mseal(2) (462) of the whole mapping: afterwards it cannot be unmapped or re-protected (it is leaked).
    pub fn mseal(&self) -> R {
        // SAFETY: the range is exactly this mapping; sealing only forbids later changes to it.
        unsafe { sc6(462, [ulen(self.addr), ulen(self.len), 0, 0, 0, 0]) }
    }

    /// pkey_mprotect(2) on the whole mapping.
    pub fn pkey_mprotect(&self, prot: i32, pkey: i32) -> R {
        // SAFETY: the range is exactly this mapping, which no Rust reference points into.
        unsafe {
            sc6(
                libc::SYS_pkey_mprotect,
                [ulen(self.addr), ulen(self.len), ai(prot), ai(pkey), 0, 0],
            )
        }
    }

    /// mlock2(2) on the whole mapping.
    pub fn mlock2(&self, flags: i32) -> R {
        // SAFETY: the range is exactly this mapping; locking changes residency only.
        unsafe {
            sc6(
                libc::SYS_mlock2,
                [ulen(self.addr), ulen(self.len), ai(flags), 0, 0, 0],
            )
        }
    }

    /// process_madvise(2) on this mapping through a pidfd of the caller.
    pub fn process_madvise(&self, pidfd: i32, advice: i32) -> R {
        let iov = libc::iovec {
            iov_base: self.addr as *mut libc::c_void,
            iov_len: self.len,
        };
        // SAFETY: the iovec (read by the kernel) names exactly this mapping; MADV_COLD/MADV_PAGEOUT keep its
        // contents.
        unsafe {
            sc6(
                libc::SYS_process_madvise,
                [
                    ai(pidfd),
                    std::ptr::from_ref(&iov) as u64,
                    1,
                    ai(advice),
                    0,
                    0,
                ],
            )
        }
    }

    /// Forgets the mapping without unmapping it (after mseal, munmap would fail).
    pub fn leak(self) {
        std::mem::forget(self);
    }

    /// mremap(2) to `new_len` (MREMAP_MAYMOVE allowed); the mapping moves with it.
    pub fn mremap(&mut self, new_len: usize, flags: i32) -> R {
        if flags & libc::MREMAP_FIXED != 0 {
            return Err(Errno::EINVAL);
        }
        // SAFETY: the old range is exactly this mapping; without MREMAP_FIXED the kernel grows in place or picks a
        // free range, so no other memory is replaced.
        let r = unsafe {
            sc6(
                libc::SYS_mremap,
                [
                    ulen(self.addr),
                    ulen(self.len),
                    ulen(new_len),
                    ai(flags),
                    0,
                    0,
                ],
            )
        }?;
        self.addr = usize::try_from(r).unwrap_or(0);
        self.len = new_len;
        Ok(0)
    }

    /// mmap(2) with MAP_FIXED_NOREPLACE at this mapping's own address: must fail with EEXIST.
    pub fn remap_fixed_noreplace(&self, prot: i32, flags: i32) -> R {
        // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; the range is this one's, so on an
        // (incorrect) success nothing but this mapping's range could be touched.
        unsafe {
            sc6(
                libc::SYS_mmap,
                [
                    ulen(self.addr),
                    ulen(self.len),
                    ai(prot),
                    ai(flags | libc::MAP_FIXED_NOREPLACE),
                    ai(-1),
                    0,
                ],
            )
        }
    }

    /// munmap(2) of `[off, off+len)`: a hole in this mapping (the mapping is not used there afterwards, except by
    /// children that expect the fault).
    pub fn munmap_part(&self, off: usize, len: usize) -> R {
        if off + len > self.len {
            return Err(Errno::EINVAL);
        }
        // SAFETY: the range lies inside this mapping, which no Rust reference points into.
        unsafe {
            sc6(
                libc::SYS_munmap,
                [ulen(self.addr + off), ulen(len), 0, 0, 0, 0],
            )
        }
    }

    /// munmap(2) of the whole mapping.
    pub fn unmap(self) -> R {
        let r = self.munmap_part(0, self.len);
        std::mem::forget(self);
        r
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        let _ = self.munmap_part(0, self.len);
    }
}

/// munmap(2) with arbitrary arguments that cannot touch live memory: a length of 0 or an unaligned address (both
/// EINVAL before anything is unmapped).
pub fn munmap_invalid(addr: usize, len: usize) -> R {
    if len != 0 && addr.is_multiple_of(page()) {
        return Err(Errno::ENOTSUP);
    }
    // SAFETY: a zero length or an unaligned address makes munmap fail with EINVAL before it unmaps anything.
    unsafe { sc6(libc::SYS_munmap, [ulen(addr), ulen(len), 0, 0, 0, 0]) }
}

/// mmap(2) with arguments expected to be rejected (bad flags, zero length): a success is unmapped at once.
pub fn mmap_expect_fail(len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> R {
    if flags & libc::MAP_FIXED != 0 {
        return Err(Errno::ENOTSUP);
    }
    // SAFETY: a NULL hint without MAP_FIXED never replaces existing memory.
    let r = unsafe {
        sc6(
            libc::SYS_mmap,
            [
                0,
                ulen(len),
                ai(prot),
                ai(flags),
                ai(fd),
                super::raw::a(off),
            ],
        )
    }?;
    drop(Map {
        addr: usize::try_from(r).unwrap_or(0),
        len,
    });
    Ok(0)
}

/// brk(2) query: the current break (never record it).
pub fn brk_query() -> R {
    // SAFETY: brk(0) only reports the current break.
    unsafe { sc6(libc::SYS_brk, [0, 0, 0, 0, 0, 0]) }
}

/// brk(2) to `addr`, which must be at or above the current break (grows the heap; it never shrinks memory in use).
pub fn brk_grow(addr: usize) -> R {
    let cur = brk_query()?;
    if i64::try_from(addr).unwrap_or(0) < cur {
        return Err(Errno::EINVAL);
    }
    // SAFETY: the new break is not below the current one, so no memory in use is released.
    unsafe { sc6(libc::SYS_brk, [ulen(addr), 0, 0, 0, 0, 0]) }
}
