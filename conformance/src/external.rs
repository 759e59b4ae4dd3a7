//! `conformance external`: third-party test binaries (the Linux Test Project's syscall tests, gVisor's syscall
//! test binaries, anything with a usable exit code) run natively and under the sentry, each in a fresh temporary
//! directory with a timeout, and compared the same way as the probe corpus.
//!
//! Formats:
//! - `ltp`: the exit code is LTP's result mask: 0 pass, 32 TCONF (skipped), anything else a failure (1 TFAIL,
//!   2 TBROK, 4 TWARN).
//! - `gtest`: the `[       OK ] T` / `[  FAILED  ] T (N ms)` result lines and the `[  PASSED  ] N tests` summary;
//!   a binary fails under the sandbox when a test that passed natively does not pass there.
//! - `exit-code`: 0 pass, 77 skip (the automake convention), anything else a failure.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::runner::{Cell, Platform, Totals, Verdict};
use crate::spawn::{self, Run, Status};

/// How a test binary reports its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// LTP exit codes.
    Ltp,
    /// gtest output.
    Gtest,
    /// Plain exit codes.
    ExitCode,
}

/// Options of `conformance external`.
#[derive(Debug, Clone)]
pub struct ExternalOpts {
    /// Output format of the binaries.
    pub format: Format,
    /// The list file.
    pub list: PathBuf,
    /// The sentry binary.
    pub sentry: PathBuf,
    /// Platforms (native is the baseline).
    pub platforms: Vec<Platform>,
    /// Per-test deadline.
    pub timeout: Duration,
    /// JSON output file.
    pub json: Option<PathBuf>,
    /// Command prefix for every test.
    pub prefix: Vec<String>,
}

/// What one run of a test binary amounted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// pass, skip or fail.
    pub verdict: &'static str,
    /// A short description (`TCONF`, `exit 1 (TFAIL)`, `2 passed, 1 failed`).
    pub detail: String,
    /// gtest: the tests that passed.
    pub passed_tests: BTreeSet<String>,
    /// gtest: the tests that failed.
    pub failed_tests: BTreeSet<String>,
}

fn ltp_label(code: i32) -> String {
    let names = [
        (1, "TFAIL"),
        (2, "TBROK"),
        (4, "TWARN"),
        (16, "TINFO"),
        (32, "TCONF"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| code & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        format!("exit {code}")
    } else {
        format!("exit {code} ({})", v.join("|"))
    }
}

/// The test name of a gtest result line such as `[  FAILED  ] Suite.Name (3 ms)`, if `line` is one.
fn gtest_result(line: &str, tag: &str) -> Option<String> {
    let rest = line.strip_prefix(tag)?.trim();
    let (name, timing) = rest.split_once(" (")?;
    (timing.ends_with("ms)") && !name.contains(' ')).then(|| name.to_owned())
}

/// Parses a finished run according to `format`.
pub fn outcome(format: Format, r: &Run) -> Outcome {
    let mut o = Outcome {
        verdict: "fail",
        detail: String::new(),
        passed_tests: BTreeSet::new(),
        failed_tests: BTreeSet::new(),
    };
    if let Some(t) = r.trouble() {
        o.detail = t;
        return o;
    }
    let code = match r.status {
        Status::Exited(c) => c,
        _ => -1,
    };
    match format {
        Format::Ltp => {
            o.verdict = match code {
                0 => "pass",
                32 => "skip",
                _ => "fail",
            };
            o.detail = if code == 0 {
                "TPASS".into()
            } else {
                ltp_label(code)
            };
        }
        Format::ExitCode => {
            o.verdict = match code {
                0 => "pass",
                77 => "skip",
                _ => "fail",
            };
            o.detail = format!("exit {code}");
        }
        Format::Gtest => {
            let mut summary_passed = None;
            for line in r.stdout.lines() {
                if let Some(n) = gtest_result(line, "[       OK ]") {
                    o.passed_tests.insert(n);
                } else if let Some(n) = gtest_result(line, "[  FAILED  ]") {
                    o.failed_tests.insert(n);
                } else if let Some(rest) = line.strip_prefix("[  PASSED  ]") {
                    summary_passed = rest
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<usize>().ok());
                }
            }
            let saw_summary = summary_passed.is_some();
            o.verdict = if code == 0 && o.failed_tests.is_empty() && saw_summary {
                "pass"
            } else {
                "fail"
            };
            o.detail = if saw_summary {
                format!(
                    "{} passed, {} failed",
                    summary_passed.unwrap_or(0),
                    o.failed_tests.len()
                )
            } else {
                format!("no gtest summary (exit {code})")
            };
        }
    }
    o
}

/// One entry of the list file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The binary (absolute when the list gives a path with a slash, resolved against the list's directory).
    pub bin: String,
    /// Its arguments.
    pub args: Vec<String>,
}

/// Parses a list file: one test per line, whitespace-separated, `#` comments.
pub fn parse_list(text: &str, base: &Path) -> Vec<Entry> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(str::to_owned);
            let bin = it.next()?;
            let bin = if bin.contains('/') && !bin.starts_with('/') {
                base.join(&bin).to_string_lossy().into_owned()
            } else {
                bin
            };
            Some(Entry {
                bin,
                args: it.collect(),
            })
        })
        .collect()
}

/// One test's results.
#[derive(Debug, Clone, Serialize)]
pub struct ExtResult {
    /// The command line as listed.
    pub name: String,
    /// Per platform.
    pub cells: BTreeMap<Platform, Cell>,
}

/// The whole external run.
#[derive(Debug, Clone, Serialize)]
pub struct ExtReport {
    /// Format used.
    pub format: Format,
    /// Results.
    pub tests: Vec<ExtResult>,
    /// Totals over the sandbox platforms.
    pub totals: Totals,
}

const DEFAULT_GRANTS: &[&str] = &[
    "/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/lib32/", "/libx32/",
];

/// `--ro` grants so the sandbox can see the binary (and the prefix's program) when they live outside the default.
fn grants_for(paths: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for p in paths {
        if !p.starts_with('/') || DEFAULT_GRANTS.iter().any(|g| p.starts_with(g)) {
            continue;
        }
        if let Some(dir) = Path::new(p).parent() {
            let d = dir.to_string_lossy().into_owned();
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out.into_iter()
        .flat_map(|d| ["--ro".to_owned(), d])
        .collect()
}

fn judge(format: Format, native: &Outcome, sandbox: &Outcome) -> Cell {
    let mut regressed: Vec<&String> = native
        .passed_tests
        .iter()
        .filter(|t| !sandbox.passed_tests.contains(*t))
        .collect();
    regressed.sort();
    if format == Format::Gtest && !regressed.is_empty() {
        let names: Vec<&str> = regressed.iter().map(|s| s.as_str()).collect();
        let mut c = Cell::new(
            Verdict::Fail,
            Some(format!(
                "{} (not passing: {})",
                sandbox.detail,
                names.join(", ")
            )),
        );
        c.diff = regressed
            .iter()
            .map(|t| format!("{t}: native=OK sandbox=not OK"))
            .collect();
        return c;
    }
    if sandbox.verdict == "pass" {
        Cell::new(Verdict::Pass, None)
    } else {
        Cell::new(
            Verdict::Fail,
            Some(format!("{} (native: {})", sandbox.detail, native.detail)),
        )
    }
}

/// Runs every listed test on every selected platform.
pub fn run(opts: &ExternalOpts) -> Result<ExtReport, String> {
    spawn::cloexec_inherited_fds();
    let mut opts = opts.clone();
    opts.sentry = std::fs::canonicalize(&opts.sentry).unwrap_or(opts.sentry);
    let opts = &opts;
    let text = std::fs::read_to_string(&opts.list)
        .map_err(|e| format!("read {}: {e}", opts.list.display()))?;
    let base = opts
        .list
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let base = std::fs::canonicalize(&base).unwrap_or(base);
    let entries = parse_list(&text, &base);
    if entries.is_empty() {
        return Err(format!("{} lists no test", opts.list.display()));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let root =
        std::env::temp_dir().join(format!("capvisor-external-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
    let env = vec![
        ("PATH".to_owned(), spawn::CHILD_PATH.to_owned()),
        ("HOME".to_owned(), home),
    ];
    let sandboxes: Vec<Platform> = opts
        .platforms
        .iter()
        .copied()
        .filter(|p| *p != Platform::Native)
        .collect();
    let sentry_ok = opts.sentry.is_file();
    let mut tests = Vec::new();
    let mut totals = Totals::default();
    for (i, e) in entries.iter().enumerate() {
        let name = std::iter::once(e.bin.clone())
            .chain(e.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd: Vec<String> = opts.prefix.clone();
        cmd.push(e.bin.clone());
        cmd.extend(e.args.iter().cloned());
        let run_in = |tag: &str, argv: &[String]| -> Run {
            let dir = root.join(format!("{i:03}-{tag}"));
            let _ = std::fs::create_dir_all(&dir);
            let r = spawn::run(argv, &dir, &env, opts.timeout);
            let _ = std::fs::remove_dir_all(&dir);
            r
        };
        let native_run = run_in("native", &cmd);
        let native = outcome(opts.format, &native_run);
        let mut cells = BTreeMap::new();
        let native_cell = match native.verdict {
            "pass" => Cell::new(Verdict::Ok, Some(native.detail.clone())),
            _ => Cell::new(
                Verdict::Skip,
                Some(format!("fails natively: {}", native.detail)),
            ),
        };
        for p in &sandboxes {
            let cell = if !sentry_ok {
                Cell::new(
                    Verdict::Skip,
                    Some(format!("sentry not found at {}", opts.sentry.display())),
                )
            } else if native_cell.verdict != Verdict::Ok {
                Cell::new(Verdict::Skip, native_cell.reason.clone())
            } else {
                let mut argv = vec![
                    opts.sentry.to_string_lossy().into_owned(),
                    "exec".to_owned(),
                    "--platform".to_owned(),
                    p.name().to_owned(),
                ];
                let first = opts.prefix.first().map_or(e.bin.as_str(), String::as_str);
                argv.extend(grants_for(&[first, e.bin.as_str()]));
                argv.push("--".into());
                argv.extend(cmd.iter().cloned());
                let r = run_in(p.name(), &argv);
                let o = outcome(opts.format, &r);
                let mut c = judge(opts.format, &native, &o);
                if c.verdict == Verdict::Fail {
                    let tail: Vec<&str> = r.stderr.lines().rev().take(3).collect();
                    if !tail.is_empty() {
                        c.stderr = Some(tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
                    }
                }
                c
            };
            totals.add(cell.verdict);
            cells.insert(*p, cell);
        }
        if sandboxes.is_empty() {
            totals.add(native_cell.verdict);
        }
        cells.insert(Platform::Native, native_cell);
        tests.push(ExtResult { name, cells });
    }
    let _ = std::fs::remove_dir_all(&root);
    let report = ExtReport {
        format: opts.format,
        tests,
        totals,
    };
    if let Some(path) = &opts.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(report)
}

/// Renders the external report with the closing line.
pub fn render(r: &ExtReport) -> String {
    let mut out = String::new();
    let w = r
        .tests
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let txt = |c: Option<&Cell>| -> String {
        let Some(c) = c else { return "-".into() };
        let word = match c.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
            Verdict::Ok => "ok",
            Verdict::Na => "n/a",
        };
        match &c.reason {
            Some(x) if c.verdict != Verdict::Ok => format!("{word}: {x}"),
            _ => word.into(),
        }
    };
    let _ = writeln!(
        out,
        "{:w$}  {:30}  {:30}  ptrace",
        "test", "native", "seccomp"
    );
    for t in &r.tests {
        let _ = writeln!(
            out,
            "{:w$}  {:30}  {:30}  {}",
            t.name,
            txt(t.cells.get(&Platform::Native)),
            txt(t.cells.get(&Platform::Seccomp)),
            txt(t.cells.get(&Platform::Ptrace))
        );
    }
    for t in &r.tests {
        for (p, c) in &t.cells {
            if c.verdict == Verdict::Fail {
                let _ = writeln!(
                    out,
                    "\n{} [{}]: {}",
                    t.name,
                    p.name(),
                    c.reason.as_deref().unwrap_or("")
                );
                for d in &c.diff {
                    let _ = writeln!(out, "    {d}");
                }
                if let Some(e) = &c.stderr {
                    for l in e.lines() {
                        let _ = writeln!(out, "    stderr: {l}");
                    }
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} passed, {} failed, {} skipped",
        r.totals.passed, r.totals.failed, r.totals.skipped
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(code: i32, stdout: &str) -> Run {
        Run {
            status: Status::Exited(code),
            stdout: stdout.into(),
            stderr: String::new(),
            leftovers: 0,
            elapsed_ms: 0,
        }
    }

    #[test]
    fn ltp_exit_codes_map_to_verdicts() {
        assert_eq!(outcome(Format::Ltp, &run_with(0, "")).verdict, "pass");
        assert_eq!(outcome(Format::Ltp, &run_with(32, "")).verdict, "skip");
        let o = outcome(Format::Ltp, &run_with(2, ""));
        assert_eq!((o.verdict, o.detail.as_str()), ("fail", "exit 2 (TBROK)"));
    }

    #[test]
    fn gtest_lines_are_parsed() {
        let out = "[ RUN      ] A.B\n[       OK ] A.B (0 ms)\n[ RUN      ] A.C\n[  FAILED  ] A.C (1 ms)\n\
                   [  PASSED  ] 1 test.\n[  FAILED  ] 1 test, listed below:\n[  FAILED  ] A.C\n";
        let o = outcome(Format::Gtest, &run_with(1, out));
        assert_eq!(o.verdict, "fail");
        assert!(o.passed_tests.contains("A.B"));
        assert_eq!(o.failed_tests.iter().collect::<Vec<_>>(), vec!["A.C"]);
        assert_eq!(o.detail, "1 passed, 1 failed");
    }

    #[test]
    fn gtest_without_summary_fails() {
        assert_eq!(
            outcome(Format::Gtest, &run_with(0, "nothing")).verdict,
            "fail"
        );
    }

    #[test]
    fn list_resolves_relative_paths_and_skips_comments() {
        let l = parse_list(
            "# c\n./t1 -x\n\n/abs/t2\nplain arg # trailing\n",
            Path::new("/base"),
        );
        assert_eq!(
            l[0],
            Entry {
                bin: "/base/./t1".into(),
                args: vec!["-x".into()]
            }
        );
        assert_eq!(l[1].bin, "/abs/t2");
        assert_eq!(
            l[2],
            Entry {
                bin: "plain".into(),
                args: vec!["arg".into()]
            }
        );
    }

    #[test]
    fn grants_skip_default_dirs() {
        assert_eq!(
            grants_for(&["/usr/bin/true", "/opt/x/t"]),
            vec!["--ro".to_owned(), "/opt/x".to_owned()]
        );
    }
}
