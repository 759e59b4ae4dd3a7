//! Pipes and FIFOs: pipe/pipe2, EOF and EPIPE, capacity and atomicity, F_SETPIPE_SZ, packet mode, FIFO open
//! semantics (blocking, non-blocking, ENXIO), splice/tee/vmsplice.
#![forbid(unsafe_code)]

use libc::{O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY};
use nix::errno::Errno;

use super::helper::{ftype, mkfile, need, open, text};
use crate::case::{Case, Ctx, Outcome};
use crate::sc;
use crate::sys::{self, int, Handler};

/// The cases of this family.
pub static CASES: &[Case] = &[
    Case::new(
        "pipe.basic",
        &["pipe", "write", "read", "fstat", "fcntl"],
        basic,
    ),
    Case::new("pipe.pipe2_flags", &["pipe2", "fcntl"], pipe2_flags),
    Case::new("pipe.nonblock_empty", &["pipe2", "read"], nonblock_empty),
    Case::new("pipe.eof", &["pipe", "close", "read"], eof),
    Case::new("pipe.epipe", &["pipe", "write", "rt_sigaction"], epipe),
    Case::new(
        "pipe.sigpipe_kills",
        &["pipe", "write", "fork", "wait4"],
        sigpipe_kills,
    ),
    Case::new("pipe.capacity", &["pipe2", "write", "fcntl"], capacity),
    Case::new(
        "pipe.atomic_pipe_buf",
        &["pipe2", "write", "fcntl"],
        atomic_pipe_buf,
    ),
    Case::new("pipe.packet_mode", &["pipe2", "write", "read"], packet_mode),
    Case::new("pipe.seek_errors", &["lseek", "pread64"], seek_errors),
    Case::new(
        "pipe.fifo_nonblock_open",
        &["mknod", "open"],
        fifo_nonblock_open,
    ),
    Case::new(
        "pipe.fifo_blocking_fork",
        &["mknod", "open", "fork", "write", "read"],
        fifo_blocking_fork,
    ),
    Case::new(
        "pipe.fifo_rdwr",
        &["mknod", "open", "write", "read"],
        fifo_rdwr,
    ),
    Case::new("pipe.splice_file", &["splice", "pipe"], splice_file),
    Case::new("pipe.tee", &["tee", "pipe"], tee),
    Case::new("pipe.vmsplice", &["vmsplice", "pipe"], vmsplice),
    Case::new(
        "pipe.large_transfer_fork",
        &["pipe", "fork", "write", "read"],
        large_transfer_fork,
    ),
];

fn basic(c: &mut Ctx) -> Outcome {
    let (r, w) = c.must("pipe", sys::pipe())?;
    c.rec("fds", vec![r, w]);
    c.ret("write", sys::write(w, b"hello")).ok();
    let d = c.must("read", sys::read(r, 100))?;
    c.eq("data", text(&d), "hello".into());
    let st = c.must("fstat", sys::fstat(r))?;
    c.rec("type", ftype(st.st_mode));
    c.rec("perms", super::helper::perms(st.st_mode));
    let acc = |v: i64| v & i64::from(libc::O_ACCMODE);
    let fr = c.must("getfl_r", sys::fcntl(r, libc::F_GETFL, 0))?;
    let fw = c.must("getfl_w", sys::fcntl(w, libc::F_GETFL, 0))?;
    c.rec("accmodes", vec![acc(fr), acc(fw)]);
    c.errno("write_read_end", sys::write(r, b"x"), Errno::EBADF);
    Ok(())
}

fn pipe2_flags(c: &mut Ctx) -> Outcome {
    let (r, w) = c.must("pipe2", sys::pipe2(libc::O_CLOEXEC | O_NONBLOCK))?;
    c.ret("getfd_r", sys::fcntl(r, libc::F_GETFD, 0)).ok();
    let fl = c.must("getfl_w", sys::fcntl(w, libc::F_GETFL, 0))?;
    c.eq("nonblock", fl & i64::from(O_NONBLOCK) != 0, true);
    c.errno("bad_flags", sys::pipe2(libc::O_APPEND), Errno::EINVAL);
    Ok(())
}

fn nonblock_empty(c: &mut Ctx) -> Outcome {
    let (r, _w) = need("pipe2", sys::pipe2(O_NONBLOCK))?;
    c.errno("read_empty", sys::read(r, 10), Errno::EAGAIN);
    Ok(())
}

fn eof(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    c.ret("write", sys::write(w, b"x")).ok();
    c.ret("close_w", sc!(libc::SYS_close, w)).ok();
    let a = c.must("read_data", sys::read(r, 10))?;
    c.eq("data", text(&a), "x".into());
    let b = c.must("read_eof", sys::read(r, 10))?;
    c.eq("eof_len", b.len(), 0);
    Ok(())
}

fn epipe(c: &mut Ctx) -> Outcome {
    let old = c.must(
        "sigaction_ignore",
        sys::sigaction(libc::SIGPIPE, Handler::Ignore, 0, 0),
    )?;
    c.rec("sigpipe_was", old.0);
    let (r, w) = need("pipe", sys::pipe())?;
    sys::close(r);
    c.errno("write", sys::write(w, b"x"), Errno::EPIPE);
    Ok(())
}

fn sigpipe_kills(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    sys::close(r);
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let _ = sys::sigaction(libc::SIGPIPE, Handler::Default, 0, 0);
            let _ = sys::write(w, b"x");
            99
        }),
    )?;
    c.rec("child", sys::reap(pid));
    Ok(())
}

fn fill(w: i32) -> usize {
    let chunk = [b'x'; 4096];
    let mut total = 0;
    while let Ok(n) = sys::write(w, &chunk) {
        total += usize::try_from(n).unwrap_or(0);
        if total > (16 << 20) {
            break;
        }
    }
    // top up with single bytes (a partial page may remain)
    while sys::write(w, b"y").is_ok() {
        total += 1;
        if total > (16 << 20) {
            break;
        }
    }
    total
}

fn capacity(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe2", sys::pipe2(O_NONBLOCK))?;
    c.ret("getpipe_sz", sys::fcntl(w, libc::F_GETPIPE_SZ, 0))
        .ok();
    c.rec("filled", fill(w));
    c.errno("write_full", sys::write(w, b"z"), Errno::EAGAIN);
    sys::close(r);
    sys::close(w);
    let (r, w) = need("pipe2", sys::pipe2(O_NONBLOCK))?;
    c.ret("setpipe_sz_4096", sys::fcntl(w, libc::F_SETPIPE_SZ, 4096))
        .ok();
    c.ret("getpipe_sz2", sys::fcntl(r, libc::F_GETPIPE_SZ, 0))
        .ok();
    c.rec("filled_small", fill(w));
    c.ret(
        "setpipe_sz_odd_rounds_up",
        sys::fcntl(w, libc::F_SETPIPE_SZ, 5000),
    )
    .ok();
    c.errno(
        "setpipe_sz_too_big",
        sys::fcntl(w, libc::F_SETPIPE_SZ, 1 << 30),
        Errno::EPERM,
    );
    Ok(())
}

fn atomic_pipe_buf(c: &mut Ctx) -> Outcome {
    let (_r, w) = need("pipe2", sys::pipe2(O_NONBLOCK))?;
    need("setpipe_sz", sys::fcntl(w, libc::F_SETPIPE_SZ, 4096))?;
    c.ret("write_4000", sys::write(w, &[b'a'; 4000])).ok();
    c.errno(
        "write_atomic_4096_no_room",
        sys::write(w, &[b'b'; 4096]),
        Errno::EAGAIN,
    );
    c.ret("write_partial_non_atomic", sys::write(w, &[b'c'; 8192]))
        .ok();
    Ok(())
}

fn packet_mode(c: &mut Ctx) -> Outcome {
    let (r, w) = c.must("pipe2_direct", sys::pipe2(libc::O_DIRECT))?;
    c.ret("write1", sys::write(w, b"abc")).ok();
    c.ret("write2", sys::write(w, b"de")).ok();
    let a = c.must("read1", sys::read(r, 100))?;
    let b = c.must("read2", sys::read(r, 100))?;
    c.rec("packets", vec![text(&a), text(&b)]);
    Ok(())
}

fn seek_errors(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    need("write", sys::write(w, b"abc"))?;
    c.errno(
        "lseek",
        sc!(libc::SYS_lseek, r, 0, libc::SEEK_SET),
        Errno::ESPIPE,
    );
    c.errno("pread", sys::pread(r, 1, 0), Errno::ESPIPE);
    let b = [b'x'];
    c.errno(
        "pwrite",
        sys::call(
            libc::SYS_pwrite64,
            &[
                sys::Arg::i(w),
                sys::Arg::b(&b),
                sys::Arg::n(1),
                sys::Arg::I(0),
            ],
        ),
        Errno::ESPIPE,
    );
    Ok(())
}

fn fifo_nonblock_open(c: &mut Ctx) -> Outcome {
    c.ret("mknod", sc!(libc::SYS_mknod, "p", libc::S_IFIFO | 0o644, 0))
        .ok();
    c.errno(
        "wronly_no_reader",
        sc!(libc::SYS_open, "p", O_WRONLY | O_NONBLOCK),
        Errno::ENXIO,
    );
    let r = int(c.mustn(
        "rdonly_nonblock",
        sc!(libc::SYS_open, "p", O_RDONLY | O_NONBLOCK),
    )?);
    let w = int(c.mustn(
        "wronly_with_reader",
        sc!(libc::SYS_open, "p", O_WRONLY | O_NONBLOCK),
    )?);
    c.ret("write", sys::write(w, b"fifo")).ok();
    let d = c.must("read", sys::read(r, 10))?;
    c.eq("data", text(&d), "fifo".into());
    sys::close(w);
    let d = c.must("read_eof", sys::read(r, 10))?;
    c.eq("eof", d.len(), 0);
    let st = c.must("fstat", sys::fstat(r))?;
    c.rec("type", ftype(st.st_mode));
    sys::close(r);
    Ok(())
}

fn fifo_blocking_fork(c: &mut Ctx) -> Outcome {
    need("mknod", sc!(libc::SYS_mknod, "p", libc::S_IFIFO | 0o644, 0))?;
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let w = match sys::open_at_cwd("p", O_WRONLY, 0) {
                Ok(w) => int(w),
                Err(_) => return 2,
            };
            i32::from(sys::write(w, b"from child").is_err())
        }),
    )?;
    let r = int(c.mustn("open_blocking_reader", sc!(libc::SYS_open, "p", O_RDONLY))?);
    let mut got = Vec::new();
    loop {
        match sys::read(r, 100) {
            Ok(b) if b.is_empty() => break,
            Ok(b) => got.extend_from_slice(&b),
            Err(Errno::EINTR) => {}
            Err(e) => {
                c.rec("read_error", crate::case::ename(e));
                break;
            }
        }
    }
    c.eq("data", text(&got), "from child".into());
    c.rec("child", sys::reap(pid));
    sys::close(r);
    Ok(())
}

fn fifo_rdwr(c: &mut Ctx) -> Outcome {
    need("mknod", sc!(libc::SYS_mknod, "p", libc::S_IFIFO | 0o644, 0))?;
    let f = int(c.mustn("open_rdwr", sc!(libc::SYS_open, "p", O_RDWR))?);
    c.ret("write", sys::write(f, b"self")).ok();
    let d = c.must("read", sys::read(f, 10))?;
    c.eq("data", text(&d), "self".into());
    sys::close(f);
    Ok(())
}

fn splice_file(c: &mut Ctx) -> Outcome {
    mkfile(c, "src", b"hello splice", 0o644)?;
    let s = open("src", O_RDONLY, 0)?;
    let (r, w) = need("pipe", sys::pipe())?;
    let mut off = 6i64;
    c.ret(
        "splice_file_to_pipe",
        sys::splice(s, Some(&mut off), w, None, 6, 0),
    )
    .ok();
    c.eq("offset_advanced", off, 12);
    let d = open("dst", O_RDWR | libc::O_CREAT, 0o644)?;
    c.ret("splice_pipe_to_file", sys::splice(r, None, d, None, 100, 0))
        .ok();
    sys::close(d);
    let data = need("read", sys::read_file("dst"))?;
    c.eq("dst", text(&data), "splice".into());
    c.st("splice_file_to_file", sys::splice(s, None, s, None, 10, 0))
        .ok();
    Ok(())
}

fn tee(c: &mut Ctx) -> Outcome {
    let (r1, w1) = need("pipe", sys::pipe())?;
    let (r2, w2) = need("pipe", sys::pipe())?;
    need("write", sys::write(w1, b"dup me"))?;
    c.ret("tee", sc!(libc::SYS_tee, r1, w2, 100, 0)).ok();
    let a = c.must("read1", sys::read(r1, 100))?;
    let b = c.must("read2", sys::read(r2, 100))?;
    c.rec("both", vec![text(&a), text(&b)]);
    c.errno(
        "tee_same_pipe",
        sc!(libc::SYS_tee, r1, w1, 100, 0),
        Errno::EINVAL,
    );
    Ok(())
}

fn vmsplice(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    let data = b"vm data".to_vec();
    let bufs: [&[u8]; 1] = [&data];
    let iov = sys::iovecs(&bufs);
    c.ret(
        "vmsplice",
        sys::call(
            libc::SYS_vmsplice,
            &[
                sys::Arg::i(w),
                sys::Arg::r(&iov[0]),
                sys::Arg::n(1),
                sys::Arg::i(0),
            ],
        ),
    )
    .ok();
    let got = c.must("read", sys::read(r, 100))?;
    c.eq("data", text(&got), "vm data".into());
    Ok(())
}

fn large_transfer_fork(c: &mut Ctx) -> Outcome {
    let (r, w) = need("pipe", sys::pipe())?;
    let pid = need(
        "fork",
        sys::fork_run(|| {
            let chunk = [b'q'; 65536];
            for _ in 0..16 {
                if sys::write(w, &chunk).is_err() {
                    return 1;
                }
            }
            0
        }),
    )?;
    sys::close(w);
    let mut total = 0usize;
    loop {
        match sys::read(r, 65536) {
            Ok(b) if b.is_empty() => break,
            Ok(b) => total += b.len(),
            Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    c.eq("total", total, 1 << 20);
    c.rec("child", sys::reap(pid));
    Ok(())
}
