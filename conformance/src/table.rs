//! THE syscall table as `sentry syscalls --json` prints it (one JSON object per line), and the errno a denied or
//! guarded entry documents.
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// One syscall of THE table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Syscall {
    /// x86_64 syscall number.
    pub nr: i64,
    /// Linux name.
    pub name: String,
    /// `native`, `emulated`, `denied(EPERM: ...)` or `guarded(EPERM: ...)`.
    pub disposition: String,
    /// Why.
    pub note: String,
}

impl Syscall {
    /// The disposition's kind: `native`, `emulated`, `denied` or `guarded`.
    pub fn kind(&self) -> &str {
        self.disposition
            .split('(')
            .next()
            .unwrap_or(&self.disposition)
    }

    /// The errno name a denied or guarded entry documents (`EPERM`), if any.
    pub fn errno(&self) -> Option<&str> {
        let inner = self.disposition.split_once('(')?.1;
        let name = inner.split([':', ')']).next()?.trim();
        (!name.is_empty()).then_some(name)
    }
}

/// Errors reading the table.
#[derive(Debug)]
pub enum TableError {
    /// The sentry could not be run.
    Spawn(std::io::Error),
    /// It ran but failed.
    Failed(String),
    /// A line was not a table entry.
    Parse { line: usize, msg: String },
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spawn(e) => write!(f, "cannot run the sentry: {e}"),
            Self::Failed(m) => write!(f, "`sentry syscalls --json` failed: {m}"),
            Self::Parse { line, msg } => write!(f, "`sentry syscalls --json` line {line}: {msg}"),
        }
    }
}

/// Parses the JSON-lines table.
pub fn parse(text: &str) -> Result<Vec<Syscall>, TableError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let s: Syscall = serde_json::from_str(line).map_err(|e| TableError::Parse {
            line: i + 1,
            msg: e.to_string(),
        })?;
        out.push(s);
    }
    Ok(out)
}

/// Runs `SENTRY syscalls --json` and parses its output.
pub fn load(sentry: &Path) -> Result<Vec<Syscall>, TableError> {
    let out = Command::new(sentry)
        .args(["syscalls", "--json"])
        .stdin(Stdio::null())
        .env_clear()
        .env("PATH", crate::spawn::CHILD_PATH)
        .output()
        .map_err(TableError::Spawn)?;
    if !out.status.success() {
        return Err(TableError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_of_denied_entry_is_parsed() {
        let s = parse(r#"{"disposition":"denied(EPERM: Operation not permitted)","name":"mount","note":"n","nr":165}"#)
            .expect("valid line");
        assert_eq!(s[0].kind(), "denied");
        assert_eq!(s[0].errno(), Some("EPERM"));
    }

    #[test]
    fn errno_of_native_entry_is_none() {
        let s = parse(r#"{"disposition":"native","name":"read","note":"n","nr":0}"#)
            .expect("valid line");
        assert_eq!(s[0].kind(), "native");
        assert_eq!(s[0].errno(), None);
    }

    #[test]
    fn parse_bad_line_names_line() {
        let e = parse("{}\n").expect_err("missing fields");
        assert!(matches!(e, TableError::Parse { line: 1, .. }));
    }
}
