//! Agent controls carried by the policy: budgets (`[limits]`, `--limit`), the approval mode (`[approval]`,
//! `--on-deny`), and secret names (`[secrets]`, `--secret`). Values only: enforcement lives in `sandbox::budget`
//! (budgets), `policy::approval` (asking) and the CLI (secrets).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

/// The budgets a sandbox can have. `None` is unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Tasks (processes and threads) alive at once, the sandbox init included.
    pub tasks: Option<u64>,
    /// Bytes of memory (resident, page cache charged to the sandbox included).
    pub memory: Option<u64>,
    /// CPU time, in seconds, summed over every task of the sandbox.
    pub cpu: Option<u64>,
    /// Wall-clock seconds from start.
    pub wall: Option<u64>,
    /// Bytes written to the private tmpfs and to writable grants.
    pub disk: Option<u64>,
    /// Open files per process (RLIMIT_NOFILE).
    pub files: Option<u64>,
    /// Bytes sent to the network.
    pub egress: Option<u64>,
}

/// The names `--limit NAME=VALUE` and `[limits]` accept, in display order.
pub const NAMES: &[&str] = &["tasks", "memory", "cpu", "wall", "disk", "files", "egress"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Count,
    Bytes,
    Seconds,
}

fn unit(name: &str) -> Option<Unit> {
    match name {
        "tasks" | "files" => Some(Unit::Count),
        "memory" | "disk" | "egress" => Some(Unit::Bytes),
        "cpu" | "wall" => Some(Unit::Seconds),
        _ => None,
    }
}

/// Parses one value: "none"/"unlimited"; a count; bytes with K/M/G/T; seconds with s/m/h (a bare number is seconds).
pub fn parse_value(name: &str, v: &str) -> Result<Option<u64>, String> {
    let u = unit(name)
        .ok_or_else(|| format!("unknown limit {name:?} (one of: {})", NAMES.join(", ")))?;
    let t = v.trim();
    if t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let (num, mul) = match (u, t.char_indices().last()) {
        (Unit::Bytes, Some((i, c))) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                'B' => 1,
                _ => return Err(bad(name, v, u)),
            };
            (&t[..i], m)
        }
        (Unit::Seconds, Some((i, c))) if c.is_ascii_alphabetic() => {
            let m: u64 = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => return Err(bad(name, v, u)),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| bad(name, v, u))
}

fn bad(_name: &str, v: &str, u: Unit) -> String {
    let want = match u {
        Unit::Count => "a positive whole number",
        Unit::Bytes => "a positive number of bytes with an optional K, M, G or T",
        Unit::Seconds => "a positive number of seconds with an optional s, m or h",
    };
    format!("{v:?} is not {want}, or \"none\"")
}

impl Limits {
    /// Sets one budget by name.
    pub fn set(&mut self, name: &str, v: Option<u64>) -> Result<(), String> {
        let slot = match name {
            "tasks" => &mut self.tasks,
            "memory" => &mut self.memory,
            "cpu" => &mut self.cpu,
            "wall" => &mut self.wall,
            "disk" => &mut self.disk,
            "files" => &mut self.files,
            "egress" => &mut self.egress,
            _ => {
                return Err(format!(
                    "unknown limit {name:?} (one of: {})",
                    NAMES.join(", ")
                ))
            }
        };
        *slot = v;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<u64> {
        match name {
            "tasks" => self.tasks,
            "memory" => self.memory,
            "cpu" => self.cpu,
            "wall" => self.wall,
            "disk" => self.disk,
            "files" => self.files,
            "egress" => self.egress,
            _ => None,
        }
    }

    /// Each budget as it is written in a policy ("512M", "30s", "none").
    pub fn show(&self, name: &str) -> String {
        match (self.get(name), unit(name)) {
            (None, _) => "none".into(),
            (Some(v), Some(Unit::Bytes)) => show_bytes(v),
            (Some(v), Some(Unit::Seconds)) => format!("{v}s"),
            (Some(v), _) => v.to_string(),
        }
    }

    /// The narrower of two budgets, per resource (a child's budget never exceeds its parent's).
    pub fn intersect(&self, other: &Limits) -> Limits {
        let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, None) => x,
            (None, y) => y,
        };
        Limits {
            tasks: min(self.tasks, other.tasks),
            memory: min(self.memory, other.memory),
            cpu: min(self.cpu, other.cpu),
            wall: min(self.wall, other.wall),
            disk: min(self.disk, other.disk),
            files: min(self.files, other.files),
            egress: min(self.egress, other.egress),
        }
    }
}

pub fn show_bytes(v: u64) -> String {
    for (suffix, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
        if v >= 1 << shift && v.is_multiple_of(1 << shift) {
            return format!("{}{suffix}", v >> shift);
        }
    }
    v.to_string()
}

/// `[limits]`: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub tasks: Option<TasksValue>,
    pub memory: Option<BytesValue>,
    pub cpu: Option<SecondsValue>,
    pub wall: Option<SecondsValue>,
    pub disk: Option<BytesValue>,
    pub files: Option<CountValue>,
    pub egress: Option<BytesValue>,
}

// One `[limits]` value as written: a number or a string, checked while deserializing so that a bad value is
// reported with its file, line and key.
macro_rules! limit_value {
    ($ty:ident, $name:literal) => {
        #[derive(Clone, Debug)]
        pub struct $ty(pub Option<u64>);
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Raw {
                    N(i64),
                    S(String),
                }
                let text = match Raw::deserialize(d)? {
                    Raw::N(n) => n.to_string(),
                    Raw::S(s) => s,
                };
                parse_value($name, &text)
                    .map($ty)
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}
limit_value!(TasksValue, "tasks");
limit_value!(CountValue, "files");
limit_value!(BytesValue, "memory");
limit_value!(SecondsValue, "cpu");

impl LimitsSection {
    /// Applies the keys present onto `l`.
    pub fn apply(&self, l: &mut Limits) {
        let pairs: [(&str, Option<Option<u64>>); 7] = [
            ("tasks", self.tasks.as_ref().map(|v| v.0)),
            ("memory", self.memory.as_ref().map(|v| v.0)),
            ("cpu", self.cpu.as_ref().map(|v| v.0)),
            ("wall", self.wall.as_ref().map(|v| v.0)),
            ("disk", self.disk.as_ref().map(|v| v.0)),
            ("files", self.files.as_ref().map(|v| v.0)),
            ("egress", self.egress.as_ref().map(|v| v.0)),
        ];
        for (name, v) in pairs {
            if let Some(v) = v {
                // Names are the fixed ones above.
                let _ = l.set(name, v);
            }
        }
    }
}

/// What to do with a request the policy does not grant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDeny {
    /// Refuse it (the default).
    #[default]
    Deny,
    /// Put it to a controller; no answer within the timeout is a refusal.
    Ask,
}

impl OnDeny {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "deny" => Ok(Self::Deny),
            "ask" => Ok(Self::Ask),
            other => Err(format!(
                "on-deny mode must be \"deny\" or \"ask\", not {other:?}"
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Ask => "ask",
        }
    }
}

/// `[approval]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSection {
    pub mode: Option<String>,
    /// Seconds to wait for an answer.
    pub timeout: Option<SecondsValue>,
}

/// The approval settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub mode: OnDeny,
    pub timeout: Duration,
}

impl Default for Approval {
    fn default() -> Self {
        Self {
            mode: OnDeny::Deny,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Live state of the budgets that the decision point consults.
#[derive(Debug, Default)]
pub struct Usage {
    /// The disk budget is spent: creations and opens for writing are refused with EDQUOT.
    disk_exhausted: AtomicBool,
}

impl Usage {
    pub fn set_disk_exhausted(&self) {
        self.disk_exhausted.store(true, Ordering::Relaxed);
    }
    pub fn disk_exhausted(&self) -> bool {
        self.disk_exhausted.load(Ordering::Relaxed)
    }
}

/// Everything of this module the policy carries.
#[derive(Clone, Debug, Default)]
pub struct Controls {
    pub limits: Limits,
    /// Where each budget was set: "default", a policy file, "--limit".
    pub limit_origin: BTreeMap<&'static str, String>,
    pub approval: Approval,
    /// Secret names and where their values come from (`@FILE`), in order; values are read at exec only.
    pub secrets: Vec<(String, String)>,
    pub usage: Arc<Usage>,
    /// `--control PATH`: the control socket.
    pub control: Option<std::path::PathBuf>,
    /// The sandbox's own cgroup directories (a delegated child's are made below them, so the kernel charges the
    /// child's tasks and memory to this sandbox's budget too).
    pub cgroup_dirs: Vec<std::path::PathBuf>,
    /// Cgroup directories to create this sandbox's cgroups under instead of the sentry's own (set for a delegated
    /// child by its parent).
    pub cgroup_parents: Vec<std::path::PathBuf>,
    /// Make the sandbox's cgroups even without a budget that needs them (an OCI container, whose cgroups a node
    /// watches for its metrics).
    pub cgroup_always: bool,
    /// The sandbox that delegated this one, and this one's id as the parent chose it.
    pub parent: Option<(String, String)>,
    /// The running approval controller (set by the sandbox when it starts).
    pub asker: Option<Arc<super::approval::Asker>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_value_units_and_none() {
        assert_eq!(parse_value("memory", "64M"), Ok(Some(64 << 20)));
        assert_eq!(parse_value("memory", "1g"), Ok(Some(1 << 30)));
        assert_eq!(parse_value("cpu", "2m"), Ok(Some(120)));
        assert_eq!(parse_value("wall", "30"), Ok(Some(30)));
        assert_eq!(parse_value("tasks", "64"), Ok(Some(64)));
        assert_eq!(parse_value("disk", "none"), Ok(None));
    }

    #[test]
    fn parse_value_bad_input_is_error() {
        assert!(parse_value("tasks", "64M").is_err());
        assert!(parse_value("memory", "-1").is_err());
        assert!(parse_value("memory", "0").is_err());
        assert!(parse_value("cpu", "5x").is_err());
        assert!(parse_value("nope", "1").is_err());
    }

    #[test]
    fn intersect_takes_the_narrower() {
        let a = Limits {
            tasks: Some(10),
            memory: None,
            ..Limits::default()
        };
        let b = Limits {
            tasks: Some(100),
            memory: Some(5),
            ..Limits::default()
        };
        let c = a.intersect(&b);
        assert_eq!(c.tasks, Some(10));
        assert_eq!(c.memory, Some(5));
    }

    #[test]
    fn limits_section_bad_value_names_line_and_key() {
        let e = toml::from_str::<LimitsSection>("tasks = 5\nmemory = \"lots\"\n").expect_err("bad");
        let s = e.to_string();
        assert!(s.contains("line 2"), "{s}");
        assert!(s.contains("memory"), "{s}");
    }
}
