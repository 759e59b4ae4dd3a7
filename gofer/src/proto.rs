//! The gofer protocol, version 1: message shapes and their encoding. See the crate README for the threat model.
//!
//! Transport: a `SOCK_SEQPACKET` unix socket pair, so message boundaries are the kernel's. One request is one packet;
//! its reply is one packet, with at most one fd attached (SCM_RIGHTS). A connection carries one request at a time;
//! the sentry opens more connections (`Req::Connect`) for concurrency.
//!
//! Encoding: little-endian. Every packet starts with the 4-byte magic `CVG1`, then a one-byte tag. Fields follow in
//! declaration order: integers fixed-width, byte strings as a u32 length and the bytes. A decoder rejects a packet
//! that is too long, too short, has trailing bytes, an unknown tag, or a string longer than its limit: the peer may be
//! compromised, so nothing it sends is trusted until it has been decoded and checked.

use nix::errno::Errno;

/// Protocol version, checked by `Req::Hello`.
pub const VERSION: u32 = 1;
/// Largest packet either side sends or accepts.
pub const MAX_PACKET: usize = 72 * 1024;
/// Largest path or name.
pub const MAX_PATH: usize = 4096;
/// Largest extended attribute value (the kernel's XATTR_SIZE_MAX).
pub const MAX_XATTR: usize = 65536;
const MAGIC: &[u8; 4] = b"CVG1";

/// A root the gofer serves: a grant, or the sandbox's private tmpfs.
pub type RootId = u32;

/// `Utimens` time values: seconds and nanoseconds, with `UTIME_NOW`/`UTIME_OMIT` in the nanoseconds as for utimensat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    pub sec: i64,
    pub nsec: i64,
}

/// A request from the sentry. Paths are relative to a root, canonical (no `.`, `..`, empty component or leading
/// slash), and never followed through a symlink; empty names the root itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Req {
    /// First message on the first connection: the sentry's protocol version. Reply: the gofer's.
    Hello {
        version: u32,
    },
    /// Serve the directory fd attached (the sandbox's private tmpfs, made after the gofer started) as a writable
    /// root. Refused after `Seal`.
    AddRoot,
    /// No more roots: the agent is about to start.
    Seal,
    /// A new connection: the attached fd is its socket.
    Connect,
    /// open(2) beneath the root; the fd comes back attached. O_CREAT/O_TMPFILE/O_TRUNC or write access need a
    /// writable root.
    Open {
        root: RootId,
        path: Vec<u8>,
        flags: i32,
        mode: u32,
    },
    /// lstat: reply data is the kernel's `struct stat`.
    Stat {
        root: RootId,
        path: Vec<u8>,
    },
    /// statx(AT_SYMLINK_NOFOLLOW): reply data is the kernel's `struct statx`.
    Statx {
        root: RootId,
        path: Vec<u8>,
        mask: u32,
    },
    Readlink {
        root: RootId,
        path: Vec<u8>,
    },
    Mkdir {
        root: RootId,
        path: Vec<u8>,
        mode: u32,
    },
    /// unlinkat, with AT_REMOVEDIR when `dir`.
    Unlink {
        root: RootId,
        path: Vec<u8>,
        dir: bool,
    },
    /// renameat2 within one root; `flags`: RENAME_NOREPLACE, RENAME_EXCHANGE.
    Rename {
        root: RootId,
        from: Vec<u8>,
        to: Vec<u8>,
        flags: u32,
    },
    Link {
        root: RootId,
        from: Vec<u8>,
        to: Vec<u8>,
    },
    Symlink {
        root: RootId,
        target: Vec<u8>,
        path: Vec<u8>,
    },
    /// chmod of the object itself (a symlink: EOPNOTSUPP, as Linux).
    Chmod {
        root: RootId,
        path: Vec<u8>,
        mode: u32,
    },
    /// lchown; u32::MAX leaves an id unchanged.
    Chown {
        root: RootId,
        path: Vec<u8>,
        uid: u32,
        gid: u32,
    },
    /// utimensat(AT_SYMLINK_NOFOLLOW); None sets both to now.
    Utimens {
        root: RootId,
        path: Vec<u8>,
        times: Option<[Time; 2]>,
    },
    Truncate {
        root: RootId,
        path: Vec<u8>,
        len: u64,
    },
    /// mknod of a FIFO or a socket (anything else: EPERM).
    Mknod {
        root: RootId,
        path: Vec<u8>,
        mode: u32,
    },
    SetXattr {
        root: RootId,
        path: Vec<u8>,
        name: Vec<u8>,
        value: Vec<u8>,
        flags: i32,
    },
    /// Reply data: the value (`size` 0 asks for the size, in `val`).
    GetXattr {
        root: RootId,
        path: Vec<u8>,
        name: Vec<u8>,
        size: u32,
    },
    ListXattr {
        root: RootId,
        path: Vec<u8>,
        size: u32,
    },
    RemoveXattr {
        root: RootId,
        path: Vec<u8>,
        name: Vec<u8>,
    },
    /// Reply data: the kernel's `struct statfs`.
    Statfs {
        root: RootId,
        path: Vec<u8>,
    },
    /// Reply data: the gofer's counters as `name=count` lines.
    Stats,
}

/// The gofer's answer: a value (and data, and maybe an fd), or an errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok { val: i64, data: Vec<u8> },
    Err(i32),
}

impl Reply {
    pub fn ok(val: i64) -> Self {
        Self::Ok {
            val,
            data: Vec::new(),
        }
    }

    pub fn into_result(self) -> Result<(i64, Vec<u8>), Errno> {
        match self {
            Self::Ok { val, data } => Ok((val, data)),
            Self::Err(e) => Err(Errno::from_raw(e)),
        }
    }
}

/// A packet that is not a well-formed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed gofer message: {0}")]
pub struct Malformed(pub &'static str);

struct W(Vec<u8>);

impl W {
    fn new(tag: u8) -> Self {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(MAGIC);
        v.push(tag);
        Self(v)
    }
    fn u32(mut self, x: u32) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn i32(mut self, x: i32) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn i64(mut self, x: i64) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn u64(mut self, x: u64) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn bytes(self, b: &[u8]) -> Self {
        // Lengths are bounded by MAX_PACKET long before u32 overflows; an oversized field is refused by the decoder.
        let n = u32::try_from(b.len()).unwrap_or(u32::MAX);
        let mut s = self.u32(n);
        s.0.extend_from_slice(b);
        s
    }
}

struct R<'a> {
    b: &'a [u8],
}

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.b.len() < n {
            return Err(Malformed("truncated"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        self.take(N)?.try_into().map_err(|_| Malformed("truncated"))
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.arr::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_le_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Result<i64, Malformed> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn bytes(&mut self, max: usize) -> Result<Vec<u8>, Malformed> {
        let n = usize::try_from(self.u32()?).map_err(|_| Malformed("length"))?;
        if n > max {
            return Err(Malformed("field too long"));
        }
        Ok(self.take(n)?.to_vec())
    }
    fn path(&mut self) -> Result<Vec<u8>, Malformed> {
        let p = self.bytes(MAX_PATH)?;
        check_path(&p)?;
        Ok(p)
    }
    fn name(&mut self) -> Result<Vec<u8>, Malformed> {
        let n = self.bytes(255)?;
        if n.is_empty() || n.contains(&0) {
            return Err(Malformed("bad xattr name"));
        }
        Ok(n)
    }
    fn end(&self) -> Result<(), Malformed> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(Malformed("trailing bytes"))
        }
    }
}

/// A canonical relative path: no NUL, no leading or trailing slash, no empty, `.` or `..` component.
pub fn check_path(p: &[u8]) -> Result<(), Malformed> {
    if p.is_empty() {
        return Ok(());
    }
    if p.contains(&0) {
        return Err(Malformed("NUL in path"));
    }
    if p.split(|&c| c == b'/')
        .any(|c| c.is_empty() || c == b"." || c == b"..")
    {
        return Err(Malformed("path not canonical"));
    }
    Ok(())
}

fn header<'a>(b: &'a [u8]) -> Result<(u8, R<'a>), Malformed> {
    if b.len() > MAX_PACKET {
        return Err(Malformed("packet too long"));
    }
    let mut r = R { b };
    if r.take(4)? != MAGIC {
        return Err(Malformed("bad magic"));
    }
    let tag = r.u8()?;
    Ok((tag, r))
}

impl Req {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Hello { version } => W::new(1).u32(*version),
            Self::AddRoot => W::new(2),
            Self::Seal => W::new(3),
            Self::Connect => W::new(4),
            Self::Open {
                root,
                path,
                flags,
                mode,
            } => W::new(10).u32(*root).bytes(path).i32(*flags).u32(*mode),
            Self::Stat { root, path } => W::new(11).u32(*root).bytes(path),
            Self::Statx { root, path, mask } => W::new(12).u32(*root).bytes(path).u32(*mask),
            Self::Readlink { root, path } => W::new(13).u32(*root).bytes(path),
            Self::Mkdir { root, path, mode } => W::new(14).u32(*root).bytes(path).u32(*mode),
            Self::Unlink { root, path, dir } => {
                W::new(15).u32(*root).bytes(path).u32(u32::from(*dir))
            }
            Self::Rename {
                root,
                from,
                to,
                flags,
            } => W::new(16).u32(*root).bytes(from).bytes(to).u32(*flags),
            Self::Link { root, from, to } => W::new(17).u32(*root).bytes(from).bytes(to),
            Self::Symlink { root, target, path } => W::new(18).u32(*root).bytes(target).bytes(path),
            Self::Chmod { root, path, mode } => W::new(19).u32(*root).bytes(path).u32(*mode),
            Self::Chown {
                root,
                path,
                uid,
                gid,
            } => W::new(20).u32(*root).bytes(path).u32(*uid).u32(*gid),
            Self::Utimens { root, path, times } => {
                let w = W::new(21).u32(*root).bytes(path);
                match times {
                    None => w.u32(0),
                    Some([a, m]) => w.u32(1).i64(a.sec).i64(a.nsec).i64(m.sec).i64(m.nsec),
                }
            }
            Self::Truncate { root, path, len } => W::new(22).u32(*root).bytes(path).u64(*len),
            Self::Mknod { root, path, mode } => W::new(23).u32(*root).bytes(path).u32(*mode),
            Self::SetXattr {
                root,
                path,
                name,
                value,
                flags,
            } => W::new(24)
                .u32(*root)
                .bytes(path)
                .bytes(name)
                .bytes(value)
                .i32(*flags),
            Self::GetXattr {
                root,
                path,
                name,
                size,
            } => W::new(25).u32(*root).bytes(path).bytes(name).u32(*size),
            Self::ListXattr { root, path, size } => W::new(26).u32(*root).bytes(path).u32(*size),
            Self::RemoveXattr { root, path, name } => W::new(27).u32(*root).bytes(path).bytes(name),
            Self::Statfs { root, path } => W::new(28).u32(*root).bytes(path),
            Self::Stats => W::new(29),
        }
        .0
    }

    pub fn decode(b: &[u8]) -> Result<Self, Malformed> {
        let (tag, mut r) = header(b)?;
        let req = match tag {
            1 => Self::Hello { version: r.u32()? },
            2 => Self::AddRoot,
            3 => Self::Seal,
            4 => Self::Connect,
            10 => Self::Open {
                root: r.u32()?,
                path: r.path()?,
                flags: r.i32()?,
                mode: r.u32()?,
            },
            11 => Self::Stat {
                root: r.u32()?,
                path: r.path()?,
            },
            12 => Self::Statx {
                root: r.u32()?,
                path: r.path()?,
                mask: r.u32()?,
            },
            13 => Self::Readlink {
                root: r.u32()?,
                path: r.path()?,
            },
            14 => Self::Mkdir {
                root: r.u32()?,
                path: r.path()?,
                mode: r.u32()?,
            },
            15 => Self::Unlink {
                root: r.u32()?,
                path: r.path()?,
                dir: match r.u32()? {
                    0 => false,
                    1 => true,
                    _ => return Err(Malformed("bad bool")),
                },
            },
            16 => Self::Rename {
                root: r.u32()?,
                from: r.path()?,
                to: r.path()?,
                flags: r.u32()?,
            },
            17 => Self::Link {
                root: r.u32()?,
                from: r.path()?,
                to: r.path()?,
            },
            18 => Self::Symlink {
                root: r.u32()?,
                target: {
                    let t = r.bytes(MAX_PATH)?;
                    if t.is_empty() || t.contains(&0) {
                        return Err(Malformed("bad symlink target"));
                    }
                    t
                },
                path: r.path()?,
            },
            19 => Self::Chmod {
                root: r.u32()?,
                path: r.path()?,
                mode: r.u32()?,
            },
            20 => Self::Chown {
                root: r.u32()?,
                path: r.path()?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            21 => Self::Utimens {
                root: r.u32()?,
                path: r.path()?,
                times: match r.u32()? {
                    0 => None,
                    1 => Some([
                        Time {
                            sec: r.i64()?,
                            nsec: r.i64()?,
                        },
                        Time {
                            sec: r.i64()?,
                            nsec: r.i64()?,
                        },
                    ]),
                    _ => return Err(Malformed("bad times")),
                },
            },
            22 => Self::Truncate {
                root: r.u32()?,
                path: r.path()?,
                len: r.u64()?,
            },
            23 => Self::Mknod {
                root: r.u32()?,
                path: r.path()?,
                mode: r.u32()?,
            },
            24 => Self::SetXattr {
                root: r.u32()?,
                path: r.path()?,
                name: r.name()?,
                value: r.bytes(MAX_XATTR)?,
                flags: r.i32()?,
            },
            25 => Self::GetXattr {
                root: r.u32()?,
                path: r.path()?,
                name: r.name()?,
                size: r.u32()?,
            },
            26 => Self::ListXattr {
                root: r.u32()?,
                path: r.path()?,
                size: r.u32()?,
            },
            27 => Self::RemoveXattr {
                root: r.u32()?,
                path: r.path()?,
                name: r.name()?,
            },
            28 => Self::Statfs {
                root: r.u32()?,
                path: r.path()?,
            },
            29 => Self::Stats,
            _ => return Err(Malformed("unknown request")),
        };
        r.end()?;
        Ok(req)
    }

    /// The operation's name, for counters and logs.
    pub fn op(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::AddRoot => "add_root",
            Self::Seal => "seal",
            Self::Connect => "connect",
            Self::Open { .. } => "open",
            Self::Stat { .. } => "stat",
            Self::Statx { .. } => "statx",
            Self::Readlink { .. } => "readlink",
            Self::Mkdir { .. } => "mkdir",
            Self::Unlink { .. } => "unlink",
            Self::Rename { .. } => "rename",
            Self::Link { .. } => "link",
            Self::Symlink { .. } => "symlink",
            Self::Chmod { .. } => "chmod",
            Self::Chown { .. } => "chown",
            Self::Utimens { .. } => "utimens",
            Self::Truncate { .. } => "truncate",
            Self::Mknod { .. } => "mknod",
            Self::SetXattr { .. } => "setxattr",
            Self::GetXattr { .. } => "getxattr",
            Self::ListXattr { .. } => "listxattr",
            Self::RemoveXattr { .. } => "removexattr",
            Self::Statfs { .. } => "statfs",
            Self::Stats => "stats",
        }
    }
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Ok { val, data } => W::new(100).i64(*val).bytes(data).0,
            Self::Err(e) => W::new(101).i32(*e).0,
        }
    }

    pub fn decode(b: &[u8]) -> Result<Self, Malformed> {
        let (tag, mut r) = header(b)?;
        let rep = match tag {
            100 => Self::Ok {
                val: r.i64()?,
                data: r.bytes(MAX_XATTR)?,
            },
            101 => {
                let e = r.i32()?;
                if !(1..4096).contains(&e) {
                    return Err(Malformed("bad errno"));
                }
                Self::Err(e)
            }
            _ => return Err(Malformed("unknown reply")),
        };
        r.end()?;
        Ok(rep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Req> {
        let p = b"a/b".to_vec();
        vec![
            Req::Hello { version: 1 },
            Req::AddRoot,
            Req::Seal,
            Req::Connect,
            Req::Open {
                root: 3,
                path: p.clone(),
                flags: libc::O_RDWR | libc::O_CREAT,
                mode: 0o644,
            },
            Req::Stat {
                root: 0,
                path: Vec::new(),
            },
            Req::Statx {
                root: 1,
                path: p.clone(),
                mask: 0x7ff,
            },
            Req::Readlink {
                root: 1,
                path: p.clone(),
            },
            Req::Mkdir {
                root: 1,
                path: p.clone(),
                mode: 0o755,
            },
            Req::Unlink {
                root: 1,
                path: p.clone(),
                dir: true,
            },
            Req::Rename {
                root: 1,
                from: p.clone(),
                to: b"c".to_vec(),
                flags: 1,
            },
            Req::Link {
                root: 1,
                from: p.clone(),
                to: b"c".to_vec(),
            },
            Req::Symlink {
                root: 1,
                target: b"/etc/../x".to_vec(),
                path: p.clone(),
            },
            Req::Chmod {
                root: 1,
                path: p.clone(),
                mode: 0o600,
            },
            Req::Chown {
                root: 1,
                path: p.clone(),
                uid: u32::MAX,
                gid: 5,
            },
            Req::Utimens {
                root: 1,
                path: p.clone(),
                times: None,
            },
            Req::Utimens {
                root: 1,
                path: p.clone(),
                times: Some([Time { sec: 1, nsec: 2 }, Time { sec: -3, nsec: 4 }]),
            },
            Req::Truncate {
                root: 1,
                path: p.clone(),
                len: 1 << 40,
            },
            Req::Mknod {
                root: 1,
                path: p.clone(),
                mode: libc::S_IFIFO | 0o600,
            },
            Req::SetXattr {
                root: 1,
                path: p.clone(),
                name: b"user.x".to_vec(),
                value: vec![0, 1, 2],
                flags: 0,
            },
            Req::GetXattr {
                root: 1,
                path: p.clone(),
                name: b"user.x".to_vec(),
                size: 0,
            },
            Req::ListXattr {
                root: 1,
                path: p.clone(),
                size: 10,
            },
            Req::RemoveXattr {
                root: 1,
                path: p.clone(),
                name: b"user.x".to_vec(),
            },
            Req::Statfs { root: 1, path: p },
            Req::Stats,
        ]
    }

    #[test]
    fn every_request_round_trips() {
        for r in all() {
            assert_eq!(Req::decode(&r.encode()).as_ref(), Ok(&r), "{r:?}");
        }
    }

    #[test]
    fn replies_round_trip_and_bad_errnos_are_refused() {
        for r in [
            Reply::ok(7),
            Reply::Ok {
                val: -1,
                data: b"xyz".to_vec(),
            },
            Reply::Err(libc::EROFS),
        ] {
            assert_eq!(Reply::decode(&r.encode()).as_ref(), Ok(&r));
        }
        assert!(Reply::decode(&Reply::Err(0).encode()).is_err());
        assert!(Reply::decode(&Reply::Err(-5).encode()).is_err());
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        for r in all() {
            let b = r.encode();
            for n in 0..b.len() {
                assert!(Req::decode(&b[..n]).is_err(), "{r:?} cut at {n}");
            }
            let mut long = b.clone();
            long.push(0);
            assert!(Req::decode(&long).is_err(), "{r:?} with a trailing byte");
        }
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        for p in [
            &b"/etc/passwd"[..],
            b"..",
            b"a/../b",
            b"a//b",
            b"./a",
            b"a/",
            b"a\0b",
        ] {
            let b = Req::Open {
                root: 0,
                path: p.to_vec(),
                flags: 0,
                mode: 0,
            }
            .encode();
            assert_eq!(
                Req::decode(&b),
                Err(Malformed(if p.contains(&0) {
                    "NUL in path"
                } else {
                    "path not canonical"
                })),
                "{p:?}"
            );
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Req::decode(b"").is_err());
        assert!(Req::decode(b"XXXX\x0a").is_err());
        assert!(Req::decode(b"CVG1\xff").is_err());
        let mut huge = W::new(10).u32(0).u32(u32::MAX).0;
        huge.extend_from_slice(&[0; 16]);
        assert!(Req::decode(&huge).is_err());
        assert!(Req::decode(&vec![0; MAX_PACKET + 1]).is_err());
    }
}
