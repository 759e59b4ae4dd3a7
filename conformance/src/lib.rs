//! capvisor's conformance suite: probe cases that run natively and under the sentry, the runner that compares them,
//! the external-suite driver, and the compatibility report.
//!
//! Binaries: `probe` runs ONE case and prints its JSON; `conformance` runs the corpus (`run`), third-party test
//! binaries (`external`), writes `docs/compat.md` (`compat`), and (for now) points at the escape suite (`escape`).

pub mod case;
pub mod cases;
pub mod compat;
pub mod escape;
pub mod external;
pub mod registry;
pub mod report;
pub mod runner;
pub mod spawn;
pub mod sys;
pub mod table;
