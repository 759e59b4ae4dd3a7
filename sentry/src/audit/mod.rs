//! The one audit path. Dispatch calls `Audit::record` once per mediated syscall, after the answer, with what the
//! policy decided; lifecycle events (sandbox start and exit, integrity loss) go through `Audit::lifecycle`.
//!
//! Records are JSON lines appended with one write(2) each, so a crash loses at most the record in flight and
//! concurrent workers never interleave. `--strace` renders the same record to stderr.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::policy::Decided;

/// Decoded arguments worth recording.
#[derive(Debug, Default, Serialize)]
pub struct Args {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirfd: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// A network destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<NetArgs>,
}

/// A network destination as recorded: the address the program asked for, the name the sandbox's resolver gave for
/// it, the protocol, and where the sentry actually connected (`via`, for host.loopback).
#[derive(Debug, Default, Serialize)]
pub struct NetArgs {
    pub proto: &'static str,
    pub addr: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// One audit record: one mediated syscall.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub time: f64,
    pub kind: &'static str,
    pub sandbox: &'a str,
    pub pid: i32,
    pub comm: String,
    pub syscall: &'a str,
    pub args: &'a Args,
    pub decision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<&'a Decided>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ret: Option<i64>,
    /// The call was checked and then let through to the kernel: its result is the kernel's, not recorded here.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub continued: bool,
    /// The syscall number (for unimplemented ones, the only name there is).
    pub nr: i64,
    pub latency_us: u64,
}

#[derive(Debug, Default)]
struct Counts {
    allowed: u64,
    denied: u64,
    errors: u64,
}

/// Where records go. Cheap when nothing is enabled: dispatch asks `wants_records()` before building one.
#[derive(Debug)]
pub struct Audit {
    pub sandbox: String,
    file: Option<std::sync::Arc<Mutex<File>>>,
    strace: bool,
    summary: bool,
    counts: Mutex<BTreeMap<&'static str, Counts>>,
    denied_total: AtomicU64,
    first_denial: Mutex<Option<String>>,
    /// Secret values: replaced by `[redacted]` in every record, strace line and hint.
    secrets: Vec<String>,
    /// The log file's path (a delegated child sandbox appends to the same log).
    pub log_path: Option<std::path::PathBuf>,
    /// Network destinations decided: (allowed, denied) counts.
    dests: Mutex<BTreeMap<String, (u64, u64)>>,
    /// Record only refused syscalls (and lifecycle records): an OCI container's default, where every allowed call of
    /// a busy service would fill the node's disk.
    denials_only: bool,
    /// Stop writing past this many bytes (one `audit_truncated` record says so).
    cap: Option<u64>,
    written: AtomicU64,
}

const REDACTED: &str = "[redacted]";

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Audit {
    pub fn new(
        sandbox: String,
        file: Option<&Path>,
        strace: bool,
        summary: bool,
    ) -> std::io::Result<Self> {
        let file_path = file.map(Path::to_path_buf);
        let file = match file {
            Some(p) => Some(std::sync::Arc::new(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ))),
            None => None,
        };
        Ok(Self {
            sandbox,
            file,
            strace,
            summary,
            counts: Mutex::new(BTreeMap::new()),
            denied_total: AtomicU64::new(0),
            first_denial: Mutex::new(None),
            secrets: Vec::new(),
            log_path: file_path,
            dests: Mutex::new(BTreeMap::new()),
            denials_only: false,
            cap: None,
            written: AtomicU64::new(0),
        })
    }

    /// Records only refusals, and at most `cap` bytes (see the fields).
    pub fn bounded(mut self, denials_only: bool, cap: u64) -> Self {
        self.denials_only = denials_only;
        self.cap = Some(cap);
        self
    }

    /// A second handle on the same log (same file, same redaction; its own counters), for components that record
    /// lifecycle events from their own threads (the approval controller).
    pub fn share(&self) -> Self {
        Self {
            sandbox: self.sandbox.clone(),
            file: self.file.clone(),
            strace: self.strace,
            summary: false,
            counts: Mutex::new(BTreeMap::new()),
            denied_total: AtomicU64::new(0),
            first_denial: Mutex::new(None),
            secrets: self.secrets.clone(),
            log_path: self.log_path.clone(),
            dests: Mutex::new(BTreeMap::new()),
            denials_only: self.denials_only,
            cap: self.cap,
            written: AtomicU64::new(0),
        }
    }

    /// Secret values to keep out of every output of this module.
    pub fn redact(&mut self, secrets: Vec<String>) {
        self.secrets = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    fn redact_str(&self, s: &str) -> String {
        let mut out = s.to_string();
        for v in &self.secrets {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        out
    }

    /// Redacts every string (keys included) of a JSON value in place.
    fn redact_value(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if self.secrets.iter().any(|x| s.contains(x.as_str())) => {
                *s = self.redact_str(s);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.redact_value(x)),
            serde_json::Value::Object(o) => {
                let taken = std::mem::take(o);
                for (k, mut x) in taken {
                    self.redact_value(&mut x);
                    o.insert(self.redact_str(&k), x);
                }
            }
            _ => {}
        }
    }

    /// Whether dispatch should build full records (file or strace). Counting happens regardless.
    pub fn wants_records(&self) -> bool {
        self.file.is_some() || self.strace
    }

    /// Counts a finished syscall; `denied` means a policy check refused it.
    pub fn count(&self, syscall: &'static str, denied: bool, failed: bool) {
        if denied {
            self.denied_total.fetch_add(1, Ordering::Relaxed);
        }
        if !self.summary {
            return;
        }
        if let Ok(mut m) = self.counts.lock() {
            let c = m.entry(syscall).or_default();
            if denied {
                c.denied += 1;
            } else if failed {
                c.errors += 1;
            } else {
                c.allowed += 1;
            }
        }
    }

    /// Counts a decided network destination for the summary.
    pub fn count_dest(&self, dest: &str, allowed: bool) {
        if !self.summary {
            return;
        }
        if let Ok(mut m) = self.dests.lock() {
            let c = m.entry(dest.to_string()).or_default();
            if allowed {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
    }

    /// Remembers the first denial, for the hint printed when the program fails.
    pub fn note_denial(&self, what: impl FnOnce() -> String) {
        if let Ok(mut f) = self.first_denial.lock() {
            if f.is_none() {
                *f = Some(what());
            }
        }
    }

    pub fn denied_total(&self) -> u64 {
        self.denied_total.load(Ordering::Relaxed)
    }

    pub fn first_denial(&self) -> Option<String> {
        self.first_denial
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .map(|s| self.redact_str(&s))
    }

    /// Writes one syscall record.
    pub fn record(&self, ev: &Event<'_>) {
        if self.strace {
            eprintln!("{}", self.redact_str(&render_strace(ev)));
        }
        if let Some(f) = &self.file {
            if !self.denials_only || ev.decision == "deny" {
                self.write_line(f, ev);
            }
        }
    }

    /// A lifecycle record (`kind` = "sandbox_start", "sandbox_exit", "integrity"), with free-form fields.
    /// One line on stderr under `--strace` (the platform, at start).
    pub fn strace_note(&self, line: &str) {
        if self.strace {
            eprintln!("{line}");
        }
    }

    pub fn lifecycle(&self, kind: &'static str, fields: serde_json::Value) {
        let Some(f) = &self.file else { return };
        let mut obj = serde_json::json!({ "time": now(), "kind": kind, "sandbox": self.sandbox });
        if let (Some(o), serde_json::Value::Object(extra)) = (obj.as_object_mut(), fields) {
            o.extend(extra);
        }
        self.write_line(f, &obj);
    }

    /// A budget ran out: the typed `budget_exceeded` record, and one line on stderr (the program is about to fail or
    /// be stopped, and the user should know why).
    pub fn budget_exceeded(&self, resource: &str, limit: &str, used: &str, action: &str) {
        eprintln!("sentry: budget exceeded: {resource} (limit {limit}, used {used}): {action}");
        self.lifecycle(
            "budget_exceeded",
            serde_json::json!({ "resource": resource, "limit": limit, "used": used, "action": action }),
        );
    }

    fn write_line<T: Serialize>(&self, f: &Mutex<File>, v: &T) {
        let line = if self.secrets.is_empty() {
            serde_json::to_vec(v)
        } else {
            // Structurally, so that a short secret cannot corrupt the JSON around it.
            serde_json::to_value(v).and_then(|mut val| {
                self.redact_value(&mut val);
                serde_json::to_vec(&val)
            })
        };
        let Ok(mut line) = line else {
            return;
        };
        line.push(b'\n');
        if let Some(cap) = self.cap {
            let len = u64::try_from(line.len()).unwrap_or(u64::MAX);
            let before = self.written.fetch_add(len, Ordering::Relaxed);
            if before.saturating_add(len) > cap {
                if before <= cap {
                    // Once: the last line says the log stops here.
                    let note = serde_json::json!({
                        "time": now(), "kind": "audit_truncated", "sandbox": self.sandbox,
                        "limit_bytes": cap,
                    });
                    if let (Ok(mut f), Ok(mut n)) = (f.lock(), serde_json::to_vec(&note)) {
                        n.push(b'\n');
                        let _ = f.write_all(&n);
                    }
                }
                return;
            }
        }
        if let Ok(mut f) = f.lock() {
            // One write(2) per record with O_APPEND: no interleaving, nothing buffered to lose.
            if let Err(e) = f.write_all(&line) {
                tracing::error!("audit log write failed: {e}");
            }
        }
    }

    /// The `--audit-summary` table, printed at exit.
    pub fn summary_text(&self) -> Option<String> {
        if !self.summary {
            return None;
        }
        let m = self.counts.lock().ok()?;
        let mut out = String::from("sentry: audit summary (mediated syscalls)\n");
        out.push_str(&format!(
            "  {:<20} {:>9} {:>9} {:>9}\n",
            "syscall", "allowed", "denied", "errors"
        ));
        let (mut a, mut d, mut e) = (0, 0, 0);
        for (name, c) in m.iter() {
            out.push_str(&format!(
                "  {:<20} {:>9} {:>9} {:>9}\n",
                name, c.allowed, c.denied, c.errors
            ));
            a += c.allowed;
            d += c.denied;
            e += c.errors;
        }
        out.push_str(&format!("  {:<20} {:>9} {:>9} {:>9}", "total", a, d, e));
        if let Ok(dests) = self.dests.lock() {
            for (title, pick) in [("contacted", 0usize), ("denied", 1usize)] {
                let list: Vec<_> = dests
                    .iter()
                    .filter(|(_, c)| if pick == 0 { c.0 > 0 } else { c.1 > 0 })
                    .collect();
                if list.is_empty() {
                    continue;
                }
                out.push_str(&format!("\nsentry: network destinations {title}"));
                for (d, c) in list {
                    let n = if pick == 0 { c.0 } else { c.1 };
                    out.push_str(&format!("\n  {d:<50} {n:>6}"));
                }
            }
        }
        Some(out)
    }
}

fn render_strace(ev: &Event<'_>) -> String {
    let mut args = Vec::new();
    if let Some(d) = ev.args.dirfd {
        args.push(if d == libc::AT_FDCWD {
            "AT_FDCWD".to_string()
        } else {
            d.to_string()
        });
    }
    if let Some(p) = &ev.args.path {
        args.push(format!("{p:?}"));
    }
    if let Some(p) = &ev.args.path2 {
        args.push(format!("{p:?}"));
    }
    if let Some(f) = &ev.args.flags {
        args.push(f.clone());
    }
    if let Some(m) = ev.args.mode {
        args.push(format!("{m:#o}"));
    }
    if let Some(n) = &ev.args.net {
        let name = n
            .name
            .as_deref()
            .map(|x| format!(" ({x})"))
            .unwrap_or_default();
        args.push(format!("{} {}:{}{name}", n.proto, n.addr, n.port));
    }
    let result = match (ev.errno, ev.ret, ev.continued) {
        (Some(e), _, _) => format!("-1 {e}"),
        (None, _, true) => "(continued to the kernel)".to_string(),
        (None, Some(r), false) => r.to_string(),
        (None, None, false) => "?".to_string(),
    };
    let rule = ev
        .rule
        .map(|r| format!(" [{} by {r}]", ev.decision))
        .unwrap_or_default();
    format!(
        "[sentry {}] {}({}) = {}{} <{}us>",
        ev.pid,
        ev.syscall,
        args.join(", "),
        result,
        rule,
        ev.latency_us
    )
}
