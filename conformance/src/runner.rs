//! `conformance run`: every case natively and under the sentry on each platform, compared, reported.
//!
//! Each (case, platform) runs as its own process tree in a fresh temporary directory that holds a hard link (or
//! copy) of the probe and is the child's cwd; natively the probe runs directly, on a sandbox platform as
//! `sentry exec [--platform P] -- DIR/probe CASE` (the default policy grants the cwd, so the sandbox sees the
//! probe). gVisor's rule applies: a compared case counts only if it passes natively; otherwise its sandbox cells
//! are skipped with the native failure as the reason. Sandbox-only cases (denied and guarded syscalls) are judged
//! against the errno THE table documents.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::case::{Case, Kind};
use crate::registry;
use crate::spawn::{self, Run, Status};
use crate::table::{self, Syscall};

/// Where a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Directly on the host.
    Native,
    /// Under the sentry, seccomp user-notify platform.
    Seccomp,
    /// Under the sentry, ptrace platform.
    Ptrace,
}

impl Platform {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Seccomp => "seccomp",
            Self::Ptrace => "ptrace",
        }
    }
}

/// A cell's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Sandbox matched native (or the documented errno).
    Pass,
    /// Sandbox differed, hung, crashed or leaked processes.
    Fail,
    /// Not judged (native failure, platform missing, host feature missing).
    Skip,
    /// Native run passed (the baseline).
    Ok,
    /// Not applicable (native column of a sandbox-only case).
    Na,
}

/// One (case, platform) result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    /// The verdict.
    pub verdict: Verdict,
    /// Why (for everything but a plain pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The probe's JSON line, if it printed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// For a difference: `key: native=.. sandbox=..` lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<String>,
    /// The tail of stderr when something went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
}

impl Cell {
    /// A cell with a verdict and an optional reason.
    pub fn new(verdict: Verdict, reason: Option<String>) -> Self {
        Self {
            verdict,
            reason,
            output: None,
            diff: Vec::new(),
            stderr: None,
        }
    }
}

/// One case's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Family.
    pub family: String,
    /// Syscalls exercised.
    pub syscalls: Vec<String>,
    /// `compare`, `sandbox-only` or `selftest`.
    pub kind: String,
    /// Per platform.
    pub cells: BTreeMap<Platform, Cell>,
}

/// Totals.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Totals {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
}

impl Totals {
    /// Counts one verdict.
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass | Verdict::Ok => self.passed += 1,
            Verdict::Fail => self.failed += 1,
            Verdict::Skip | Verdict::Na => self.skipped += 1,
        }
    }
}

/// The whole run, as written by `--json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The sentry used.
    pub sentry: String,
    /// The platforms selected, and whether each was available.
    pub platforms: BTreeMap<Platform, String>,
    /// Every case.
    pub cases: Vec<CaseResult>,
    /// The closing-line totals (over the selected sandbox platforms, or native alone).
    pub totals: Totals,
    /// Per family, per counted platform.
    pub families: BTreeMap<String, BTreeMap<Platform, Totals>>,
}

/// Options of `conformance run`.
#[derive(Debug, Clone)]
pub struct RunOpts {
    /// Platforms to run (native is always run as the baseline when a sandbox platform is selected).
    pub platforms: Vec<Platform>,
    /// Glob over case names; `selftest.*` cases run only when it names them.
    pub filter: Option<String>,
    /// Parallel jobs.
    pub jobs: usize,
    /// Write the report as JSON here.
    pub json: Option<PathBuf>,
    /// The sentry binary.
    pub sentry: PathBuf,
    /// The probe binary.
    pub probe: PathBuf,
    /// Per-run deadline.
    pub timeout: Duration,
    /// Keep the temporary directories.
    pub keep: bool,
}

/// How to run on a platform, or why it cannot.
#[derive(Debug, Clone)]
enum Avail {
    Yes(Vec<String>),
    No(String),
}

fn env() -> Vec<(String, String)> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
    vec![
        ("PATH".into(), spawn::CHILD_PATH.into()),
        ("HOME".into(), home),
    ]
}

/// Whether the sentry runs a trivial program with `--platform NAME` (None: without the flag).
fn sentry_runs(sentry: &Path, platform: Option<&str>, dir: &Path) -> Result<(), String> {
    let mut argv = vec![sentry.to_string_lossy().into_owned(), "exec".into()];
    if let Some(p) = platform {
        argv.push("--platform".into());
        argv.push(p.into());
    }
    argv.extend(["--".into(), "/bin/true".into()]);
    let r = spawn::run(&argv, dir, &env(), Duration::from_secs(20));
    match r.status {
        Status::Exited(0) => Ok(()),
        _ => Err(r.stderr.lines().last().unwrap_or("").trim().to_owned()),
    }
}

fn availability(opts: &RunOpts, dir: &Path) -> BTreeMap<Platform, Avail> {
    let mut out = BTreeMap::new();
    out.insert(Platform::Native, Avail::Yes(Vec::new()));
    let sentry = opts.sentry.to_string_lossy().into_owned();
    let sentry_ok = opts.sentry.is_file();
    if opts.platforms.contains(&Platform::Seccomp) {
        let a = if !sentry_ok {
            Avail::No(format!("sentry not found at {sentry}"))
        } else if sentry_runs(&opts.sentry, Some("seccomp"), dir).is_ok() {
            Avail::Yes(vec![
                sentry.clone(),
                "exec".into(),
                "--platform".into(),
                "seccomp".into(),
                "--".into(),
            ])
        } else {
            match sentry_runs(&opts.sentry, None, dir) {
                Ok(()) => Avail::Yes(vec![sentry.clone(), "exec".into(), "--".into()]),
                Err(e) => Avail::No(format!("sentry cannot start a sandbox: {e}")),
            }
        };
        out.insert(Platform::Seccomp, a);
    }
    if opts.platforms.contains(&Platform::Ptrace) {
        let a = if sentry_ok && sentry_runs(&opts.sentry, Some("ptrace"), dir).is_ok() {
            Avail::Yes(vec![
                sentry,
                "exec".into(),
                "--platform".into(),
                "ptrace".into(),
                "--".into(),
            ])
        } else {
            Avail::No("platform not available".into())
        };
        out.insert(Platform::Ptrace, a);
    }
    out
}

/// `*` (any run of characters) and `?` (one character) matching.
fn wild(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| wild(rest, &s[i..])),
        Some(('?', rest)) => !s.is_empty() && wild(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && wild(rest, &s[1..]),
    }
}

/// Expands `{a,b}` groups (not nested) into alternatives.
fn expand(p: &str) -> Vec<String> {
    match (p.find('{'), p.find('}')) {
        (Some(a), Some(b)) if a < b => {
            let (pre, inner, post) = (&p[..a], &p[a + 1..b], &p[b + 1..]);
            inner
                .split(',')
                .flat_map(|alt| expand(&format!("{pre}{alt}{post}")))
                .collect()
        }
        _ => vec![p.to_owned()],
    }
}

/// Whether `name` matches the glob `pattern` (`*`, `?`, `{a,b}`; a `,` outside braces also separates
/// alternatives).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let s: Vec<char> = name.chars().collect();
    let mut tops = Vec::new();
    let (mut depth, mut cur) = (0usize, String::new());
    for ch in pattern.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                tops.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    tops.push(cur);
    tops.iter()
        .flat_map(|t| expand(t))
        .any(|alt| wild(&alt.chars().collect::<Vec<_>>(), &s))
}

/// Whether `case` is selected by `filter` (self-tests only when the filter's text names them).
pub fn selected(case: &Case, filter: Option<&str>) -> bool {
    match filter {
        Some(f) => {
            glob_match(f, case.name) && (case.kind != Kind::SelfTest || f.contains("selftest"))
        }
        None => case.kind != Kind::SelfTest,
    }
}

/// The last line of `stdout` that parses as a probe result.
fn probe_json(stdout: &str) -> Option<(String, Value)> {
    stdout.lines().rev().find_map(|l| {
        let v: Value = serde_json::from_str(l).ok()?;
        v.get("case")?;
        Some((l.to_owned(), v))
    })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        let cut = (0..=117)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}...", &s[..cut])
    } else {
        s
    }
}

/// The keys of a probe line's `steps`, in the order the case recorded them (a `Value` map is sorted).
pub fn step_order(line: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    struct KeysVisitor;
    impl<'de> serde::de::Visitor<'de> for KeysVisitor {
        type Value = Keys;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
            let mut v = Vec::new();
            while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                v.push(k);
            }
            Ok(Keys(v))
        }
    }
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(KeysVisitor)
        }
    }
    #[derive(Deserialize)]
    struct Line {
        steps: Keys,
    }
    serde_json::from_str::<Line>(line)
        .map(|l| l.steps.0)
        .unwrap_or_default()
}

/// `key: native=.. sandbox=..` for every step that differs (in `order`, then alphabetically), then for the
/// top-level fields.
pub fn diff(native: &Value, sandbox: &Value, order: &[String]) -> Vec<String> {
    let mut top = Vec::new();
    for k in ["status", "reason", "failures"] {
        if native.get(k) != sandbox.get(k) {
            let n = native.get(k).cloned().unwrap_or(Value::Null);
            let s = sandbox.get(k).cloned().unwrap_or(Value::Null);
            top.push(format!("{k}: native={} sandbox={}", short(&n), short(&s)));
        }
    }
    let mut out = Vec::new();
    let empty = serde_json::Map::new();
    let ns = native
        .get("steps")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let ss = sandbox
        .get("steps")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut keys: Vec<&String> = ns.keys().chain(ss.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.sort_by_key(|k| order.iter().position(|o| o == *k).unwrap_or(usize::MAX));
    for k in keys {
        if ns.get(k) != ss.get(k) {
            let n = ns.get(k).map_or_else(|| "(absent)".to_owned(), short);
            let s = ss.get(k).map_or_else(|| "(absent)".to_owned(), short);
            out.push(format!("steps.{k}: native={n} sandbox={s}"));
        }
    }
    out.extend(top);
    out
}

/// `Run::trouble`, plus the sentry's convention for a program killed by a signal: exit status 128+N.
fn sandbox_trouble(r: &Run) -> Option<String> {
    r.trouble().or_else(|| match r.status {
        Status::Exited(c) if (129..=192).contains(&c) && probe_json(&r.stdout).is_none() => {
            Some(format!(
                "crashed (signal {}, reported by the sentry as exit {c})",
                c - 128
            ))
        }
        _ => None,
    })
}

fn stderr_tail(r: &Run) -> Option<String> {
    let t: Vec<&str> = r.stderr.lines().rev().take(5).collect();
    (!t.is_empty()).then(|| t.into_iter().rev().collect::<Vec<_>>().join("\n"))
}

/// Judges the native run of a compared case: Ok, or Skip with the reason.
fn judge_native(r: &Run) -> Cell {
    let parsed = probe_json(&r.stdout);
    let mut cell = match (&r.trouble(), &parsed) {
        (Some(t), _) => Cell::new(Verdict::Skip, Some(format!("fails natively: {t}"))),
        (None, None) => Cell::new(
            Verdict::Skip,
            Some(format!("fails natively: no JSON output ({:?})", r.status)),
        ),
        (None, Some((_, v))) => match v.get("status").and_then(Value::as_str) {
            Some("ok") if r.status == Status::Exited(0) => Cell::new(Verdict::Ok, None),
            Some("skip") => Cell::new(
                Verdict::Skip,
                Some(format!(
                    "host: {}",
                    v.get("reason").and_then(Value::as_str).unwrap_or("skipped")
                )),
            ),
            _ => {
                let why = v
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| v.get("failures").map(short))
                    .unwrap_or_else(|| "failed".into());
                Cell::new(Verdict::Skip, Some(format!("fails natively: {why}")))
            }
        },
    };
    cell.output = parsed.map(|p| p.0);
    if cell.verdict != Verdict::Ok {
        cell.stderr = stderr_tail(r);
    }
    cell
}

/// Judges a sandboxed run of a compared case against the native JSON.
fn judge_sandbox(native: &Value, native_line: &str, r: &Run) -> Cell {
    let parsed = probe_json(&r.stdout);
    let mut order = step_order(native_line);
    if let Some((line, _)) = &parsed {
        order.extend(
            step_order(line)
                .into_iter()
                .filter(|k| !order.contains(k))
                .collect::<Vec<_>>(),
        );
    }
    let mut cell = if let Some(t) = sandbox_trouble(r) {
        Cell::new(Verdict::Fail, Some(t))
    } else {
        match &parsed {
            None => Cell::new(
                Verdict::Fail,
                Some(format!("no JSON output ({:?})", r.status)),
            ),
            Some((_, v)) if v == native && r.status == Status::Exited(0) => {
                Cell::new(Verdict::Pass, None)
            }
            Some((_, v)) => {
                let d = diff(native, v, &order);
                let first = d
                    .iter()
                    .find(|l| l.starts_with("steps."))
                    .or_else(|| d.first())
                    .cloned()
                    .unwrap_or_default();
                let mut c = Cell::new(Verdict::Fail, Some(format!("differs: {first}")));
                c.diff = d;
                c
            }
        }
    };
    if let (Some(t), Some((_, v))) = (sandbox_trouble(r), &parsed) {
        cell.diff = diff(native, v, &order);
        cell.reason = Some(t);
    }
    cell.output = parsed.map(|p| p.0);
    if cell.verdict == Verdict::Fail {
        cell.stderr = stderr_tail(r);
    }
    cell
}

/// Judges a sandbox-only run against the errno the table documents for the case's syscall.
fn judge_sandbox_only(case: &Case, table: &BTreeMap<String, Syscall>, r: &Run) -> Cell {
    let sysname = case.syscalls.first().copied().unwrap_or("");
    let Some(entry) = table.get(sysname) else {
        return Cell::new(
            Verdict::Skip,
            Some(format!("{sysname} is not in THE table")),
        );
    };
    let Some(want) = entry.errno() else {
        return Cell::new(
            Verdict::Skip,
            Some(format!(
                "table: {sysname} is {} (no errno documented)",
                entry.disposition
            )),
        );
    };
    let parsed = probe_json(&r.stdout);
    let got = parsed
        .as_ref()
        .and_then(|(_, v)| v.pointer("/steps/ret"))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => format!("returned {other}"),
        });
    let mut cell = match (sandbox_trouble(r), &got) {
        (Some(t), _) => Cell::new(Verdict::Fail, Some(t)),
        (None, Some(g)) if g == want => Cell::new(Verdict::Pass, None),
        (None, Some(g)) => Cell::new(
            Verdict::Fail,
            Some(format!("got {g}, table documents {want}")),
        ),
        (None, None) => Cell::new(Verdict::Fail, Some(format!("no result ({:?})", r.status))),
    };
    cell.output = parsed.map(|p| p.0);
    if cell.verdict == Verdict::Fail {
        cell.stderr = stderr_tail(r);
    }
    cell
}

struct Job {
    case: usize,
    platform: Platform,
}

fn prepare_dir(
    root: &Path,
    probe_master: &Path,
    idx: usize,
    case: &Case,
    p: Platform,
) -> std::io::Result<PathBuf> {
    let dir = root.join(format!("{idx:04}-{}-{}", case.name, p.name()));
    std::fs::create_dir_all(&dir)?;
    let dst = dir.join("probe");
    if std::fs::hard_link(probe_master, &dst).is_err() {
        std::fs::copy(probe_master, &dst)?;
    }
    Ok(dir)
}

/// Runs the selected cases and returns the report (also printed, and written with `--json`).
pub fn run(opts: &RunOpts) -> Result<Report, String> {
    spawn::cloexec_inherited_fds();
    // Children run in temporary directories: make both paths absolute first.
    let mut opts = opts.clone();
    opts.sentry = std::fs::canonicalize(&opts.sentry).unwrap_or(opts.sentry);
    opts.probe = std::fs::canonicalize(&opts.probe).unwrap_or(opts.probe);
    let opts = &opts;
    if !opts.probe.is_file() {
        return Err(format!(
            "probe binary not found at {} (build it with cargo build -p conformance)",
            opts.probe.display()
        ));
    }
    let cases: Vec<&'static Case> = registry::all()
        .into_iter()
        .filter(|c| selected(c, opts.filter.as_deref()))
        .collect();
    if cases.is_empty() {
        return Err("no case matches the filter".into());
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let root = std::env::temp_dir().join(format!(
        "capvisor-conformance-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
    let master = root.join("probe");
    std::fs::copy(&opts.probe, &master)
        .map_err(|e| format!("copy the probe to {}: {e}", master.display()))?;
    let avail = availability(opts, &root);
    let table: BTreeMap<String, Syscall> = match avail
        .get(&Platform::Seccomp)
        .or_else(|| avail.get(&Platform::Ptrace))
    {
        Some(Avail::Yes(_)) => table::load(&opts.sentry)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect(),
        _ => BTreeMap::new(),
    };
    let sandbox_platforms: Vec<Platform> = opts
        .platforms
        .iter()
        .copied()
        .filter(|p| *p != Platform::Native)
        .collect();

    let mut jobs = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        if c.kind != Kind::SandboxOnly {
            jobs.push(Job {
                case: i,
                platform: Platform::Native,
            });
        }
        for p in &sandbox_platforms {
            if matches!(avail.get(p), Some(Avail::Yes(_))) {
                jobs.push(Job {
                    case: i,
                    platform: *p,
                });
            }
        }
    }
    let runs: Vec<Mutex<Option<Run>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = opts.jobs.max(1).min(jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(j) else { break };
                let case = cases[job.case];
                let r = match prepare_dir(&root, &master, j, case, job.platform) {
                    Err(e) => Run {
                        status: Status::SpawnFailed(format!("temp dir: {e}")),
                        stdout: String::new(),
                        stderr: String::new(),
                        leftovers: 0,
                        elapsed_ms: 0,
                    },
                    Ok(dir) => {
                        let mut argv = match avail.get(&job.platform) {
                            Some(Avail::Yes(prefix)) => prefix.clone(),
                            _ => Vec::new(),
                        };
                        argv.push(dir.join("probe").to_string_lossy().into_owned());
                        if case.kind == Kind::SandboxOnly {
                            argv.push("--sandbox-only".into());
                        }
                        argv.push(case.name.into());
                        let r = spawn::run(&argv, &dir, &env(), opts.timeout);
                        if !opts.keep {
                            let _ = std::fs::remove_dir_all(&dir);
                        }
                        r
                    }
                };
                if let Some(slot) = runs.get(j) {
                    if let Ok(mut g) = slot.lock() {
                        *g = Some(r);
                    }
                }
            });
        }
    });
    let mut by_case: Vec<BTreeMap<Platform, Run>> = cases.iter().map(|_| BTreeMap::new()).collect();
    for (job, slot) in jobs.iter().zip(runs) {
        if let Some(r) = slot.into_inner().ok().flatten() {
            by_case[job.case].insert(job.platform, r);
        }
    }
    if !opts.keep {
        let _ = std::fs::remove_dir_all(&root);
    }

    let mut results = Vec::new();
    for (case, runs) in cases.iter().zip(by_case) {
        let mut cells = BTreeMap::new();
        let native_cell = match (case.kind, runs.get(&Platform::Native)) {
            (Kind::SandboxOnly, _) => Cell::new(Verdict::Na, Some("sandbox-only".into())),
            (_, Some(r)) => judge_native(r),
            (_, None) => Cell::new(Verdict::Skip, Some("not run".into())),
        };
        let native_json = native_cell
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str::<Value>(o).ok());
        for p in &sandbox_platforms {
            let cell = match (avail.get(p), runs.get(p)) {
                (Some(Avail::No(why)), _) => Cell::new(Verdict::Skip, Some(why.clone())),
                (_, None) => Cell::new(Verdict::Skip, Some("not run".into())),
                (_, Some(r)) if case.kind == Kind::SandboxOnly => {
                    judge_sandbox_only(case, &table, r)
                }
                (_, Some(r)) => match (&native_cell.verdict, &native_json) {
                    (Verdict::Ok, Some(nj)) => {
                        judge_sandbox(nj, native_cell.output.as_deref().unwrap_or(""), r)
                    }
                    _ => {
                        // Not judged, but say what the sandboxed run did (it ran, and the runner survived it).
                        let seen =
                            sandbox_trouble(r).unwrap_or_else(|| match probe_json(&r.stdout) {
                                Some((_, v)) => format!(
                                    "status {}",
                                    v.get("status").map_or_else(String::new, short)
                                ),
                                None => format!("{:?}", r.status),
                            });
                        let why = native_cell.reason.clone().unwrap_or_default();
                        Cell::new(Verdict::Skip, Some(format!("{why}; sandboxed run: {seen}")))
                    }
                },
            };
            cells.insert(*p, cell);
        }
        cells.insert(Platform::Native, native_cell);
        results.push(CaseResult {
            name: case.name.into(),
            family: case.family().into(),
            syscalls: case.syscalls.iter().map(|s| (*s).to_owned()).collect(),
            kind: match case.kind {
                Kind::Compare => "compare",
                Kind::SandboxOnly => "sandbox-only",
                Kind::SelfTest => "selftest",
            }
            .into(),
            cells,
        });
    }

    let counted: Vec<Platform> = if sandbox_platforms.is_empty() {
        vec![Platform::Native]
    } else {
        sandbox_platforms.clone()
    };
    let mut totals = Totals::default();
    let mut families: BTreeMap<String, BTreeMap<Platform, Totals>> = BTreeMap::new();
    for r in &results {
        for p in &counted {
            if let Some(c) = r.cells.get(p) {
                totals.add(c.verdict);
                families
                    .entry(r.family.clone())
                    .or_default()
                    .entry(*p)
                    .or_default()
                    .add(c.verdict);
            }
        }
    }
    let mut platforms = BTreeMap::new();
    platforms.insert(Platform::Native, "available".to_owned());
    for p in &sandbox_platforms {
        let s = match avail.get(p) {
            Some(Avail::Yes(_)) => "available".to_owned(),
            Some(Avail::No(w)) => w.clone(),
            None => "not selected".to_owned(),
        };
        platforms.insert(*p, s);
    }
    let report = Report {
        sentry: opts.sentry.to_string_lossy().into_owned(),
        platforms,
        cases: results,
        totals,
        families,
    };
    if let Some(path) = &opts.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_reports_changed_and_missing_steps() {
        let n = json!({"status":"ok","reason":null,"failures":[],"steps":{"a":1,"b":"x"}});
        let s = json!({"status":"fail","reason":"b: EROFS","failures":[],"steps":{"a":1}});
        let d = diff(&n, &s, &[]);
        assert!(d.iter().any(|l| l.starts_with("status:")));
        assert!(d
            .iter()
            .any(|l| l == "steps.b: native=\"x\" sandbox=(absent)"));
        assert!(!d.iter().any(|l| l.starts_with("steps.a")));
    }

    #[test]
    fn step_order_keeps_recorded_order_and_diff_follows_it() {
        let line = r#"{"case":"x","status":"ok","steps":{"z":1,"a":2,"m":3}}"#;
        assert_eq!(step_order(line), vec!["z", "a", "m"]);
        let n: Value = serde_json::from_str(line).expect("json");
        let s = json!({"case":"x","status":"ok","steps":{"z":0,"a":0,"m":3}});
        let d = diff(&n, &s, &step_order(line));
        assert_eq!(
            d,
            vec!["steps.z: native=1 sandbox=0", "steps.a: native=2 sandbox=0"]
        );
    }

    #[test]
    fn judge_native_crash_is_skip_with_reason() {
        let r = Run {
            status: Status::Signaled(11),
            stdout: String::new(),
            stderr: String::new(),
            leftovers: 0,
            elapsed_ms: 1,
        };
        let c = judge_native(&r);
        assert_eq!(c.verdict, Verdict::Skip);
        assert_eq!(
            c.reason.as_deref(),
            Some("fails natively: crashed (signal 11)")
        );
    }

    #[test]
    fn judge_sandbox_equal_json_passes() {
        let line = r#"{"case":"x","status":"ok","reason":null,"failures":[],"steps":{"a":1}}"#;
        let native: Value = serde_json::from_str(line).expect("json");
        let r = Run {
            status: Status::Exited(0),
            stdout: format!("{line}\n"),
            stderr: String::new(),
            leftovers: 0,
            elapsed_ms: 1,
        };
        assert_eq!(judge_sandbox(&native, line, &r).verdict, Verdict::Pass);
    }

    #[test]
    fn judge_sandbox_leftover_fails_even_if_equal() {
        let line = r#"{"case":"x","status":"ok","reason":null,"failures":[],"steps":{}}"#;
        let native: Value = serde_json::from_str(line).expect("json");
        let r = Run {
            status: Status::Exited(0),
            stdout: line.into(),
            stderr: String::new(),
            leftovers: 2,
            elapsed_ms: 1,
        };
        let c = judge_sandbox(&native, line, &r);
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.reason.as_deref(), Some("left 2 process(es) behind"));
    }

    #[test]
    fn selected_excludes_selftests_unless_named() {
        let all = registry::all();
        let st = all
            .iter()
            .find(|c| c.kind == Kind::SelfTest)
            .expect("a selftest exists");
        assert!(!selected(st, None));
        assert!(selected(st, Some("selftest.*")));
        assert!(selected(st, Some("{time.*,selftest.*}")));
        assert!(!selected(st, Some("*")));
    }

    #[test]
    fn glob_match_wildcards_and_alternatives() {
        assert!(glob_match("fs.*", "fs.open_trunc"));
        assert!(!glob_match("fs.*", "fd.dup"));
        assert!(glob_match("fs.open_?runc", "fs.open_trunc"));
        assert!(glob_match("{fd,pipe}.*", "pipe.eof"));
        assert!(glob_match("fd.*,pipe.eof", "pipe.eof"));
        assert!(glob_match("*", "x"));
    }
}
