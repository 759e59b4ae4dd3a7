//! The human-readable report of `conformance run`: the table (case, native, seccomp, ptrace), the differences,
//! the sandbox-only section, per-family pass rates, and the closing line `N passed, N failed, N skipped`.
#![forbid(unsafe_code)]

use std::fmt::Write;

use crate::runner::{Cell, Platform, Report, Totals, Verdict};

const COLS: [Platform; 3] = [Platform::Native, Platform::Seccomp, Platform::Ptrace];

fn cell_text(c: Option<&Cell>) -> String {
    let Some(c) = c else { return "-".into() };
    let word = match c.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Skip => "skip",
        Verdict::Ok => "ok",
        Verdict::Na => "n/a",
    };
    match (&c.reason, c.verdict) {
        (_, Verdict::Pass | Verdict::Ok | Verdict::Na) | (None, _) => word.into(),
        (Some(r), _) => {
            let r: String = r.chars().take(48).collect();
            format!("{word}: {r}")
        }
    }
}

fn rate(t: &Totals) -> String {
    let judged = t.passed + t.failed;
    if judged == 0 {
        return format!("-/- (skipped {})", t.skipped);
    }
    let permille = (t.passed * 1000 + judged / 2) / judged;
    format!(
        "{}/{} ({}.{}%), skipped {}",
        t.passed,
        judged,
        permille / 10,
        permille % 10,
        t.skipped
    )
}

/// Renders the whole report.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let w0 = r
        .cases
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let col = |p: Platform| -> usize {
        r.cases
            .iter()
            .map(|c| cell_text(c.cells.get(&p)).len())
            .max()
            .unwrap_or(6)
            .clamp(6, 60)
    };
    let widths: Vec<usize> = COLS.iter().map(|p| col(*p)).collect();
    let head = ["case", "native", "seccomp", "ptrace"];
    let _ = writeln!(
        out,
        "{:w0$}  {:w1$}  {:w2$}  {}",
        head[0],
        head[1],
        head[2],
        head[3],
        w1 = widths[0],
        w2 = widths[1]
    );
    for c in r.cases.iter().filter(|c| c.kind != "sandbox-only") {
        let t: Vec<String> = COLS.iter().map(|p| cell_text(c.cells.get(p))).collect();
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {}",
            c.name,
            t[0],
            t[1],
            t[2],
            w1 = widths[0],
            w2 = widths[1]
        );
    }

    let sandbox_only: Vec<_> = r
        .cases
        .iter()
        .filter(|c| c.kind == "sandbox-only")
        .collect();
    if !sandbox_only.is_empty() {
        let _ = writeln!(out, "\nSandbox-only cases (denied/guarded syscalls; expected errno from `sentry syscalls --json`):");
        for c in &sandbox_only {
            let t: Vec<String> = COLS.iter().map(|p| cell_text(c.cells.get(p))).collect();
            let _ = writeln!(
                out,
                "{:w0$}  {:w1$}  {:w2$}  {}",
                c.name,
                t[0],
                t[1],
                t[2],
                w1 = widths[0],
                w2 = widths[1]
            );
        }
    }

    let mut fails = String::new();
    for c in &r.cases {
        for (p, cell) in &c.cells {
            if cell.verdict != Verdict::Fail {
                continue;
            }
            let _ = writeln!(
                fails,
                "\n{} [{}]: {}",
                c.name,
                p.name(),
                cell.reason.as_deref().unwrap_or("")
            );
            for d in &cell.diff {
                let _ = writeln!(fails, "    {d}");
            }
            if let Some(n) = c
                .cells
                .get(&Platform::Native)
                .and_then(|n| n.output.as_deref())
            {
                if c.kind != "sandbox-only" {
                    let _ = writeln!(fails, "    native:  {n}");
                }
            }
            if let Some(o) = &cell.output {
                let _ = writeln!(fails, "    sandbox: {o}");
            }
            if let Some(e) = &cell.stderr {
                for l in e.lines() {
                    let _ = writeln!(fails, "    stderr: {l}");
                }
            }
        }
    }
    if !fails.is_empty() {
        let _ = write!(
            out,
            "\nFailures (the sandbox differs from native, or from THE table):{fails}"
        );
    }

    let _ = writeln!(out, "\nPlatforms:");
    for (p, s) in &r.platforms {
        let _ = writeln!(out, "  {:8} {s}", p.name());
    }
    let _ = writeln!(out, "\nPer-family pass rates (passed/judged; a case that fails natively is skipped, never counted):");
    let counted: Vec<Platform> = r
        .families
        .values()
        .flat_map(|m| m.keys().copied())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for (fam, per) in &r.families {
        let cols: Vec<String> = counted
            .iter()
            .map(|p| format!("{}: {}", p.name(), per.get(p).map(rate).unwrap_or_default()))
            .collect();
        let _ = writeln!(out, "  {fam:10} {}", cols.join("   "));
    }
    for p in &counted {
        let mut t = Totals::default();
        for per in r.families.values() {
            if let Some(x) = per.get(p) {
                t.passed += x.passed;
                t.failed += x.failed;
                t.skipped += x.skipped;
            }
        }
        let _ = writeln!(out, "  {:10} {}: {}", "all", p.name(), rate(&t));
    }
    let _ = writeln!(
        out,
        "\n{} passed, {} failed, {} skipped",
        r.totals.passed, r.totals.failed, r.totals.skipped
    );
    out
}
