//! One conformance case: its name, the syscalls it exercises, and what the probe records while running it.
//!
//! A case runs in a fresh process whose cwd is a fresh, empty temporary directory (apart from the `probe` binary
//! itself). It records the return values, errnos and visible state it observes as ordered `steps`, and its own
//! checks as `failures`. The runner compares the whole JSON between the native run and each sandboxed run, so a case
//! must record nothing that differs from run to run: no pids, inode numbers, addresses, timestamps or absolute
//! temporary paths (`Ctx::path` rewrites the temporary directory as `$CWD`).
#![forbid(unsafe_code)]

use std::fmt::Debug;

use nix::errno::Errno;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// How a case ends early: it failed one of its own checks, or the host lacks what it needs.
#[derive(Debug)]
pub enum Stop {
    /// A required step failed; the message names it.
    Fail(String),
    /// The host lacks a feature the case needs (never used to hide a sandbox difference).
    Skip(String),
}

/// What a case function returns.
pub type Outcome = Result<(), Stop>;

/// How the runner judges a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs natively and under the sentry; the JSON must match, and the case must pass natively first.
    Compare,
    /// Only meaningful inside the sandbox: it records the errno of a denied or guarded call, and the runner checks it
    /// against the errno THE table documents. Never run natively (as root, several would act on the host).
    SandboxOnly,
    /// Tests of the runner itself (a hang, a crash, a leftover process). Only run when named by `--filter`.
    SelfTest,
}

/// The body of a case.
#[derive(Clone, Copy)]
pub enum Body {
    /// A function that runs the case and records what it sees.
    Fn(fn(&mut Ctx) -> Outcome),
    /// One raw syscall with fixed (invalid or harmless) arguments; records its result as `ret`.
    Raw { nr: i64, args: [u64; 6] },
}

/// A named conformance case.
pub struct Case {
    /// `family.name`, unique across the corpus.
    pub name: &'static str,
    /// The syscalls the case exercises, by their Linux names (as in THE table).
    pub syscalls: &'static [&'static str],
    /// How the runner judges it.
    pub kind: Kind,
    /// What runs in the probe.
    pub body: Body,
}

impl Case {
    /// A case compared between native and sandboxed runs.
    pub const fn new(
        name: &'static str,
        syscalls: &'static [&'static str],
        f: fn(&mut Ctx) -> Outcome,
    ) -> Self {
        Self {
            name,
            syscalls,
            kind: Kind::Compare,
            body: Body::Fn(f),
        }
    }

    /// A sandbox-only case whose body is a function (guarded syscalls with specific arguments).
    pub const fn sandbox(
        name: &'static str,
        syscalls: &'static [&'static str],
        f: fn(&mut Ctx) -> Outcome,
    ) -> Self {
        Self {
            name,
            syscalls,
            kind: Kind::SandboxOnly,
            body: Body::Fn(f),
        }
    }

    /// A sandbox-only case that issues one raw syscall.
    pub const fn raw(
        name: &'static str,
        syscalls: &'static [&'static str],
        nr: i64,
        args: [u64; 6],
    ) -> Self {
        Self {
            name,
            syscalls,
            kind: Kind::SandboxOnly,
            body: Body::Raw { nr, args },
        }
    }

    /// A test of the runner itself.
    pub const fn selftest(name: &'static str, f: fn(&mut Ctx) -> Outcome) -> Self {
        Self {
            name,
            syscalls: &[],
            kind: Kind::SelfTest,
            body: Body::Fn(f),
        }
    }

    /// The family: the part of the name before the first dot.
    pub fn family(&self) -> &'static str {
        self.name.split('.').next().unwrap_or(self.name)
    }
}

/// Ordered `key: value` pairs, serialized as a JSON object in insertion order.
#[derive(Debug, Default)]
pub struct Steps(Vec<(String, Value)>);

impl Steps {
    fn push(&mut self, key: &str, v: Value) {
        let mut k = key.to_owned();
        let mut n = 1;
        while self.0.iter().any(|(e, _)| *e == k) {
            n += 1;
            k = format!("{key}#{n}");
        }
        self.0.push((k, v));
    }
}

impl Serialize for Steps {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The name of an errno as the JSON records it (`"ENOENT"`).
pub fn ename(e: Errno) -> String {
    format!("{e:?}")
}

mod erased {
    /// Serializes any value to JSON text (object-safe, for `Ctx::finish`).
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize + ?Sized> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned())
        }
    }
}

/// What a case sees of its world, and what it records.
pub struct Ctx {
    steps: Steps,
    failures: Vec<String>,
    cwd: String,
    exe: String,
}

impl Ctx {
    /// A context for a case running in `cwd` (absolute), whose probe binary is `exe` (absolute).
    pub fn new(cwd: String, exe: String) -> Self {
        Self {
            steps: Steps::default(),
            failures: Vec::new(),
            cwd,
            exe,
        }
    }

    /// The absolute path of the case's temporary directory (never record it: use `path`).
    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    /// The absolute path of the probe binary, for cases that exec a helper.
    pub fn exe(&self) -> &str {
        &self.exe
    }

    /// `p` with the temporary directory replaced by `$CWD`.
    pub fn path(&self, p: &str) -> String {
        if self.cwd.is_empty() {
            return p.to_owned();
        }
        p.replace(&self.cwd, "$CWD")
    }

    /// Records a value.
    pub fn rec(&mut self, key: &str, v: impl Into<Value>) {
        self.steps.push(key, v.into());
    }

    /// Records a syscall's result: the returned number on success, the errno name on failure.
    pub fn ret(&mut self, key: &str, r: Result<i64, Errno>) -> Result<i64, Errno> {
        match r {
            Ok(v) => self.rec(key, v),
            Err(e) => self.rec(key, ename(e)),
        }
        r
    }

    /// Records only whether a call succeeded (`"ok"`) or its errno, for results that vary run to run.
    pub fn st<T>(&mut self, key: &str, r: Result<T, Errno>) -> Result<T, Errno> {
        match &r {
            Ok(_) => self.rec(key, "ok"),
            Err(e) => self.rec(key, ename(*e)),
        }
        r
    }

    /// Requires success: records `"ok"` (or the errno) and stops the case as failed on error.
    pub fn must<T>(&mut self, key: &str, r: Result<T, Errno>) -> Result<T, Stop> {
        self.st(key, r)
            .map_err(|e| Stop::Fail(format!("{key}: {}", ename(e))))
    }

    /// Requires success and records the returned number (fds, byte counts).
    pub fn mustn(&mut self, key: &str, r: Result<i64, Errno>) -> Result<i64, Stop> {
        self.ret(key, r)
            .map_err(|e| Stop::Fail(format!("{key}: {}", ename(e))))
    }

    /// Records a call that must fail with `want`; a different outcome is recorded as a failure.
    pub fn errno<T: Debug>(&mut self, key: &str, r: Result<T, Errno>, want: Errno) {
        match r {
            Ok(v) => {
                self.rec(key, "ok");
                self.fail(format!(
                    "{key}: succeeded ({v:?}), expected {}",
                    ename(want)
                ));
            }
            Err(e) => {
                self.rec(key, ename(e));
                if e != want {
                    self.fail(format!("{key}: {}, expected {}", ename(e), ename(want)));
                }
            }
        }
    }

    /// Records `got` under `key` and checks it equals `want`.
    pub fn eq<T>(&mut self, key: &str, got: T, want: T)
    where
        T: Into<Value> + PartialEq + Debug + Clone,
    {
        if got != want {
            self.fail(format!("{key}: got {got:?}, expected {want:?}"));
        }
        self.rec(key, got);
    }

    /// Records a check that does not add a step: a false `cond` is a failure named `what`.
    pub fn check(&mut self, what: &str, cond: bool) {
        if !cond {
            self.fail(format!("check failed: {what}"));
        }
    }

    /// Records a failure.
    pub fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }

    /// The probe's JSON line for this case (steps in the order they were recorded), and whether it passed.
    pub fn finish(self, case: &str, outcome: Outcome) -> (String, bool) {
        let (status, reason) = match outcome {
            Ok(()) if self.failures.is_empty() => ("ok", Value::Null),
            Ok(()) => ("fail", Value::Null),
            Err(Stop::Fail(m)) => ("fail", Value::String(m)),
            Err(Stop::Skip(m)) => ("skip", Value::String(m)),
        };
        let s = |v: &dyn erased::Ser| v.json();
        let line = format!(
            r#"{{"case":{},"status":{},"reason":{},"failures":{},"steps":{}}}"#,
            s(&case),
            s(&status),
            s(&reason),
            s(&self.failures),
            s(&self.steps),
        );
        (line, status != "fail")
    }

    /// The steps serialized in insertion order (for display).
    pub fn steps_json(&self) -> String {
        serde_json::to_string(&self.steps).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx::new("/tmp/x".into(), "/tmp/x/probe".into())
    }

    #[test]
    fn steps_duplicate_key_gets_suffix() {
        let mut c = ctx();
        c.rec("a", 1);
        c.rec("a", 2);
        assert_eq!(c.steps_json(), r#"{"a":1,"a#2":2}"#);
    }

    #[test]
    fn errno_mismatch_records_failure() {
        let mut c = ctx();
        c.errno::<i64>("open", Err(Errno::EACCES), Errno::ENOENT);
        let (line, ok) = c.finish("t", Ok(()));
        assert!(!ok);
        let v: Value = serde_json::from_str(&line).expect("finish emits JSON");
        assert_eq!(v["steps"]["open"], "EACCES");
        assert_eq!(v["status"], "fail");
    }

    #[test]
    fn path_rewrites_cwd() {
        let c = ctx();
        assert_eq!(c.path("/tmp/x/a/b"), "$CWD/a/b");
    }
}
