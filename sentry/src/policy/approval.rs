//! Approval: a request the policy does not grant, put to a controller instead of failing at once (`--on-deny ask`).
//!
//! `Policy::check` stays the one decision point: when its own rules refuse an askable request, it asks here, and the
//! answer becomes its decision (recorded on the `Subject` like any other, so the syscall's audit record says which
//! question and answer decided it). A question blocks only the asking syscall: the worker hands pool leadership off
//! first, so the other threads and processes of the sandbox keep being served. `always` widens the policy for the
//! rest of the run: later requests of the same access to the same path are allowed by `Policy::check` without a
//! question, and their records name the answer that widened it.
//!
//! Controllers: a control socket (`--control PATH`, a unix stream socket, mode 0600, one JSON object per line; see the
//! README for the protocol), or without one, a prompt on the sentry's own terminal (`/dev/tty` of the sentry, never
//! the agent's pty). No answer within the timeout is a refusal. Every question and every answer is an audit record
//! (`approval_question`, `approval_answer`).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Access;
use crate::audit::Audit;

/// How a question ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub id: u64,
    pub allow: bool,
    pub always: bool,
    /// "control", "terminal", "timeout", "no controller", "sandbox ended".
    pub by: String,
}

#[derive(Debug)]
struct Pending {
    question: Value,
    answer: Option<Answer>,
}

#[derive(Debug, Default)]
struct State {
    pending: BTreeMap<u64, Pending>,
    /// Grants widened by `always` answers: (access, exact path, question id).
    always: Vec<(Access, PathBuf, u64)>,
}

/// Where questions go.
#[derive(Debug)]
enum Sink {
    Socket(UnixStream),
    Tty(std::fs::File),
}

/// The approval controller of one sandbox.
#[derive(Debug)]
pub struct Asker {
    timeout: Duration,
    next: AtomicU64,
    state: Mutex<State>,
    cv: Condvar,
    sinks: Mutex<Vec<Sink>>,
    audit: Audit,
    socket: Option<PathBuf>,
    /// Ask at all (`--on-deny ask`); the control socket may exist for other uses without it.
    pub asking: bool,
    closed: AtomicBool,
}

impl Asker {
    /// Sets up the controller: binds `socket` (refusing to replace anything that is not a stale socket) or, without
    /// one, opens the sentry's terminal. Threads start here; call after the sandbox's clone.
    pub fn start(
        asking: bool,
        timeout: Duration,
        socket: Option<&Path>,
        audit: Audit,
        interactive: bool,
    ) -> Result<Arc<Self>, String> {
        let asker = Arc::new(Self {
            timeout,
            next: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            sinks: Mutex::new(Vec::new()),
            audit,
            socket: socket.map(Path::to_path_buf),
            asking,
            closed: AtomicBool::new(false),
        });
        if let Some(path) = socket {
            let listener = bind(path)?;
            let a = Arc::clone(&asker);
            std::thread::Builder::new()
                .name("sentry-control".into())
                .spawn(move || {
                    block_signals();
                    a.accept_loop(&listener);
                })
                .map_err(|e| format!("control thread: {e}"))?;
        } else if asking {
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags_noctty()
                .open("/dev/tty")
            {
                Ok(tty) => {
                    let reader = tty.try_clone().map_err(|e| format!("/dev/tty: {e}"))?;
                    if let Ok(mut s) = asker.sinks.lock() {
                        s.push(Sink::Tty(tty));
                    }
                    if interactive {
                        // The sentry's terminal is relayed to the agent: the relay hands keystrokes to the pending
                        // question instead (`terminal_input`), so that nothing reads the terminal twice.
                        if let Ok(mut t) = TERMINAL.lock() {
                            *t = Arc::downgrade(&asker);
                        }
                    } else {
                        let a = Arc::clone(&asker);
                        std::thread::Builder::new()
                            .name("sentry-prompt".into())
                            .spawn(move || {
                                block_signals();
                                a.tty_loop(reader);
                            })
                            .map_err(|e| format!("prompt thread: {e}"))?;
                    }
                }
                Err(e) => {
                    // Nobody to ask: every question is refused at once, and the records say why.
                    tracing::info!("no terminal for approval prompts: {e}");
                }
            }
        }
        Ok(asker)
    }

    /// The grant an `always` answer added for this access to this path, if any (a lookup rides on any access).
    pub fn always_covers(&self, access: Access, path: &Path) -> Option<u64> {
        let s = self.state.lock().ok()?;
        s.always
            .iter()
            .find(|(a, p, _)| p == path && (*a == access || access == Access::Lookup))
            .map(|(_, _, id)| *id)
    }

    fn has_controller(&self) -> bool {
        self.sinks.lock().is_ok_and(|s| !s.is_empty()) || self.socket.is_some()
    }

    /// Asks, and waits for the answer or the timeout. The caller has handed off pool leadership.
    pub fn ask(&self, pid: i32, access: Access, path: &Path, rule: &str) -> Answer {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let q = json!({
            "type": "question",
            "id": id,
            "sandbox": self.audit.sandbox,
            "pid": pid,
            "access": access.as_str(),
            "path": path.to_string_lossy(),
            "rule": rule,
            "timeout_ms": u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        });
        self.audit.lifecycle("approval_question", strip_type(&q));
        let started = Instant::now();
        let answer = if self.closed.load(Ordering::Relaxed) || !self.has_controller() {
            Answer {
                id,
                allow: false,
                always: false,
                by: "no controller".into(),
            }
        } else {
            self.wait(id, pid, q)
        };
        let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.audit.lifecycle(
            "approval_answer",
            json!({
                "id": id,
                "decision": if answer.allow { "allow" } else { "deny" },
                "always": answer.always,
                "by": answer.by,
                "waited_ms": waited_ms,
                "access": access.as_str(),
                "path": path.to_string_lossy(),
            }),
        );
        if answer.allow && answer.always {
            if let Ok(mut s) = self.state.lock() {
                s.always.push((access, path.to_path_buf(), id));
            }
        }
        answer
    }

    fn wait(&self, id: u64, pid: i32, q: Value) -> Answer {
        let Ok(mut s) = self.state.lock() else {
            return self.timed_out(id);
        };
        s.pending.insert(
            id,
            Pending {
                question: q.clone(),
                answer: None,
            },
        );
        drop(s);
        self.broadcast(&q);
        let deadline = Instant::now() + self.timeout;
        let Ok(mut s) = self.state.lock() else {
            return self.timed_out(id);
        };
        loop {
            if let Some(a) = s.pending.get(&id).and_then(|p| p.answer.clone()) {
                s.pending.remove(&id);
                return a;
            }
            let now = Instant::now();
            // A task that is gone (killed while it waited) needs no answer.
            let gone = pid > 0 && !Path::new(&format!("/proc/{pid}")).exists();
            if now >= deadline || gone {
                s.pending.remove(&id);
                drop(s);
                let mut a = self.timed_out(id);
                if gone {
                    a.by = "task gone".into();
                }
                self.broadcast(&answered(&a));
                return a;
            }
            s = match self
                .cv
                .wait_timeout(s, (deadline - now).min(Duration::from_millis(250)))
            {
                Ok((g, _)) => g,
                Err(_) => return self.timed_out(id),
            };
        }
    }

    fn timed_out(&self, id: u64) -> Answer {
        Answer {
            id,
            allow: false,
            always: false,
            by: "timeout".into(),
        }
    }

    /// Records an answer. Err when there is no such pending question (answered already, timed out, or never asked).
    pub fn answer(&self, id: u64, allow: bool, always: bool, by: &str) -> Result<(), String> {
        let a = Answer {
            id,
            allow,
            always: allow && always,
            by: by.into(),
        };
        {
            let mut s = self
                .state
                .lock()
                .map_err(|_| "internal error".to_string())?;
            let p = s
                .pending
                .get_mut(&id)
                .ok_or_else(|| format!("no pending question {id}"))?;
            if p.answer.is_some() {
                return Err(format!("question {id} is already answered"));
            }
            p.answer = Some(a.clone());
        }
        self.cv.notify_all();
        self.broadcast(&answered(&a));
        Ok(())
    }

    fn broadcast(&self, msg: &Value) {
        let Ok(mut sinks) = self.sinks.lock() else {
            return;
        };
        sinks.retain_mut(|s| match s {
            Sink::Socket(st) => writeln!(st, "{msg}").is_ok(),
            Sink::Tty(t) => {
                if msg["type"] == "question" {
                    let _ = write!(
                        t,
                        "\r\nsentry: question {}: pid {} wants {} {} (refused by {}). Allow? [y]es/[n]o/[a]lways (no answer in {} s: no) ",
                        msg["id"],
                        msg["pid"],
                        msg["access"].as_str().unwrap_or(""),
                        msg["path"].as_str().unwrap_or(""),
                        msg["rule"].as_str().unwrap_or(""),
                        self.timeout.as_secs()
                    );
                } else if msg["by"] == "timeout" {
                    let _ = writeln!(t, "\r\nsentry: question {}: no answer, refused", msg["id"]);
                }
                true
            }
        });
    }

    fn accept_loop(self: Arc<Self>, listener: &UnixListener) {
        for conn in listener.incoming() {
            if self.closed.load(Ordering::Relaxed) {
                return;
            }
            let Ok(conn) = conn else { continue };
            let Ok(mut writer) = conn.try_clone() else {
                continue;
            };
            // Hello, then every question still waiting.
            let hello = json!({ "type": "hello", "version": 1, "sandbox": self.audit.sandbox });
            let pending: Vec<Value> = self
                .state
                .lock()
                .map(|s| {
                    s.pending
                        .values()
                        .filter(|p| p.answer.is_none())
                        .map(|p| p.question.clone())
                        .collect()
                })
                .unwrap_or_default();
            let mut ok = writeln!(writer, "{hello}").is_ok();
            for q in pending {
                ok = ok && writeln!(writer, "{q}").is_ok();
            }
            if !ok {
                continue;
            }
            if let Ok(mut s) = self.sinks.lock() {
                s.push(Sink::Socket(writer));
            }
            let a = Arc::clone(&self);
            let _ = std::thread::Builder::new()
                .name("sentry-control-conn".into())
                .spawn(move || a.serve_conn(conn));
        }
    }

    fn serve_conn(&self, conn: UnixStream) {
        let Ok(mut reply_to) = conn.try_clone() else {
            return;
        };
        let reader = BufReader::new(conn);
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if line.trim().is_empty() {
                continue;
            }
            let reply = match parse_answer(&line) {
                Ok((id, allow, always)) => match self.answer(id, allow, always, "control") {
                    Ok(()) => continue, // the "answered" broadcast reaches this client too
                    Err(e) => json!({ "type": "error", "id": id, "error": e }),
                },
                Err(e) => json!({ "type": "error", "error": e }),
            };
            if writeln!(reply_to, "{reply}").is_err() {
                return;
            }
        }
    }

    fn tty_loop(&self, mut tty: std::fs::File) {
        use std::io::Read;
        let mut buf = [0u8; 256];
        loop {
            match tty.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    for b in &buf[..n] {
                        self.key(*b);
                    }
                }
            }
        }
    }

    /// The oldest question still waiting (the one on the screen first).
    fn oldest_pending(&self) -> Option<u64> {
        self.state.lock().ok().and_then(|s| {
            s.pending
                .iter()
                .find(|(_, p)| p.answer.is_none())
                .map(|(id, _)| *id)
        })
    }

    /// One keystroke from the terminal: y (yes), n (no), a (always); anything else is ignored. Cooked or raw mode
    /// alike (in cooked mode the line arrives after Enter, whose newline is ignored).
    fn key(&self, b: u8) -> bool {
        let (allow, always) = match b.to_ascii_lowercase() {
            b'y' => (true, false),
            b'a' => (true, true),
            b'n' => (false, false),
            _ => return false,
        };
        match self.oldest_pending() {
            Some(id) => self.answer(id, allow, always, "terminal").is_ok(),
            None => false,
        }
    }

    /// The sandbox is over: refuse whatever still waits, stop accepting, remove the socket.
    pub fn shutdown(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let ids: Vec<u64> = self
            .state
            .lock()
            .map(|s| s.pending.keys().copied().collect())
            .unwrap_or_default();
        for id in ids {
            let _ = self.answer(id, false, false, "sandbox ended");
        }
        if let Some(p) = &self.socket {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The asker that owns the sentry's terminal while the agent is interactive (see `terminal_input`).
static TERMINAL: Mutex<std::sync::Weak<Asker>> = Mutex::new(std::sync::Weak::new());

/// Called by the terminal relay with what the user typed: while a question is pending on the terminal, the input is
/// its answer and is not passed to the agent (returns true). Otherwise false, and the relay forwards it as usual.
pub fn terminal_input(bytes: &[u8]) -> bool {
    let Some(a) = TERMINAL.lock().ok().and_then(|t| t.upgrade()) else {
        return false;
    };
    if a.oldest_pending().is_none() {
        return false;
    }
    for b in bytes {
        a.key(*b);
    }
    true
}

/// Threads of the controller never take the sentry's signals (the main loop forwards them to the agent).
fn block_signals() {
    let _ = nix::sys::signal::SigSet::all().thread_block();
}

fn strip_type(q: &Value) -> Value {
    let mut v = q.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("type");
    }
    v
}

fn answered(a: &Answer) -> Value {
    json!({
        "type": "answered",
        "id": a.id,
        "decision": if a.allow { "allow" } else { "deny" },
        "always": a.always,
        "by": a.by,
    })
}

/// `{"type":"answer","id":N,"decision":"allow"|"deny","always":bool}` → (id, allow, always).
pub fn parse_answer(line: &str) -> Result<(u64, bool, bool), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if v["type"] != "answer" {
        return Err("expected {\"type\":\"answer\",...}".into());
    }
    let id = v["id"].as_u64().ok_or("answer without a numeric id")?;
    let allow = match v["decision"].as_str() {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err("decision must be \"allow\" or \"deny\"".into()),
    };
    let always = v["always"].as_bool().unwrap_or(false);
    Ok((id, allow, always))
}

/// Binds the control socket with mode 0600. An existing socket nobody listens on is replaced; anything else is an
/// error (never clobber a file).
fn bind(path: &Path) -> Result<UnixListener, String> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.file_type().is_socket() && UnixStream::connect(path).is_err() {
            let _ = std::fs::remove_file(path);
        } else {
            return Err(format!("--control {}: already exists", path.display()));
        }
    }
    // Only the owner may answer: the socket is created with no access for anyone else (the sentry's umask is 0 by
    // now, and no other thread is running yet).
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let l = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let l = l.map_err(|e| format!("--control {}: {e}", path.display()))?;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    Ok(l)
}

/// `O_NOCTTY` for the terminal open: the sentry must not acquire a controlling terminal by opening one.
trait NoCtty {
    fn custom_flags_noctty(&mut self) -> &mut Self;
}
impl NoCtty for std::fs::OpenOptions {
    fn custom_flags_noctty(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
    }
}

/// Client side (`sentry approve`, `sentry deny`): sends one answer and waits for its outcome.
pub fn send_answer(socket: &Path, id: u64, allow: bool, always: bool) -> Result<String, String> {
    let conn = UnixStream::connect(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut w = conn.try_clone().map_err(|e| e.to_string())?;
    let msg = json!({
        "type": "answer",
        "id": id,
        "decision": if allow { "allow" } else { "deny" },
        "always": always,
    });
    writeln!(w, "{msg}").map_err(|e| e.to_string())?;
    for line in BufReader::new(conn).lines() {
        let line = line.map_err(|e| format!("no reply: {e}"))?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("bad reply: {e}"))?;
        if v["id"].as_u64() != Some(id) {
            continue;
        }
        match v["type"].as_str() {
            Some("answered") => return Ok(line),
            Some("error") => return Err(v["error"].as_str().unwrap_or("refused").to_string()),
            _ => {}
        }
    }
    Err("the sentry closed the connection".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asker(timeout_ms: u64) -> Arc<Asker> {
        let audit = Audit::new("t".into(), None, false, false).expect("audit");
        // A socket path makes the asker believe a controller exists without binding anything here.
        Arc::new(Asker {
            timeout: Duration::from_millis(timeout_ms),
            next: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            sinks: Mutex::new(Vec::new()),
            audit,
            socket: Some(PathBuf::from("/nonexistent")),
            asking: true,
            closed: AtomicBool::new(false),
        })
    }

    #[test]
    fn ask_unanswered_is_denied_at_timeout() {
        let a = asker(50);
        let ans = a.ask(1, Access::Read, Path::new("/x"), "deny /x");
        assert!(!ans.allow);
        assert_eq!(ans.by, "timeout");
    }

    #[test]
    fn ask_answered_always_widens_for_that_path_only() {
        let a = asker(5000);
        let a2 = Arc::clone(&a);
        let t = std::thread::spawn(move || a2.ask(1, Access::Read, Path::new("/x"), "deny /x"));
        // Wait for the question, then answer it.
        let id = loop {
            if let Some(id) = a
                .state
                .lock()
                .ok()
                .and_then(|s| s.pending.keys().next().copied())
            {
                break id;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        a.answer(id, true, true, "test").expect("answer");
        let ans = t.join().expect("join");
        assert!(ans.allow && ans.always);
        assert_eq!(a.always_covers(Access::Read, Path::new("/x")), Some(id));
        assert_eq!(a.always_covers(Access::Lookup, Path::new("/x")), Some(id));
        assert_eq!(a.always_covers(Access::Write, Path::new("/x")), None);
        assert_eq!(a.always_covers(Access::Read, Path::new("/y")), None);
        assert!(a.answer(id, false, false, "test").is_err());
    }

    #[test]
    fn parse_answer_rejects_bad_input() {
        assert_eq!(
            parse_answer(r#"{"type":"answer","id":3,"decision":"allow","always":true}"#),
            Ok((3, true, true))
        );
        assert!(parse_answer(r#"{"type":"answer","id":3,"decision":"maybe"}"#).is_err());
        assert!(parse_answer("nope").is_err());
        assert!(parse_answer(r#"{"type":"answer","decision":"deny"}"#).is_err());
    }
}
