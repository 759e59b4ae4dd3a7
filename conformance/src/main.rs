//! `conformance`: runs the probe corpus natively and under the sentry and reports where they differ; runs
//! third-party test binaries the same way; writes docs/compat.md; runs the escape suite.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use conformance::external::{self, ExternalOpts, Format};
use conformance::runner::{self, Platform, RunOpts};
use conformance::{compat, report};

#[derive(Parser)]
#[command(
    name = "conformance",
    about = "capvisor conformance: native vs sandboxed, syscall by syscall"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlatformArg {
    Native,
    Seccomp,
    Ptrace,
    All,
}

impl PlatformArg {
    fn platforms(self) -> Vec<Platform> {
        match self {
            Self::Native => vec![Platform::Native],
            Self::Seccomp => vec![Platform::Native, Platform::Seccomp],
            Self::Ptrace => vec![Platform::Native, Platform::Ptrace],
            Self::All => vec![Platform::Native, Platform::Seccomp, Platform::Ptrace],
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Ltp,
    Gtest,
    ExitCode,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the probe corpus natively and under the sentry, compare, and report.
    Run {
        /// Which platforms (native always runs as the baseline).
        #[arg(long, value_enum, default_value = "all")]
        platform: PlatformArg,
        /// Only cases whose name matches this glob (e.g. 'fs.*'); 'selftest.*' selects the runner's own tests.
        #[arg(long)]
        filter: Option<String>,
        /// Parallel runs (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Also write the full results as JSON to FILE (read by `conformance compat`).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// The sentry binary (default: `sentry` next to this binary).
        #[arg(long, value_name = "PATH")]
        sentry: Option<PathBuf>,
        /// The probe binary (default: `probe` next to this binary).
        #[arg(long, value_name = "PATH")]
        probe: Option<PathBuf>,
        /// Seconds before a run is killed and reported as timed out.
        #[arg(long, default_value_t = 20)]
        timeout: u64,
        /// Keep the temporary directories.
        #[arg(long)]
        keep: bool,
    },
    /// Run third-party test binaries natively and under the sentry and compare their verdicts.
    External {
        /// How a binary reports: LTP exit codes, gtest summary lines, or plain exit codes.
        #[arg(long, value_enum)]
        format: FormatArg,
        /// A file listing one test per line: a binary and its arguments ('#' starts a comment).
        #[arg(long, value_name = "FILE")]
        list: PathBuf,
        /// The sentry binary (default: `sentry` next to this binary).
        #[arg(long, value_name = "PATH")]
        sentry: Option<PathBuf>,
        /// Which platforms (native always runs as the baseline).
        #[arg(long, value_enum, default_value = "seccomp")]
        platform: PlatformArg,
        /// Seconds before a test is killed.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Also write the results as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// A command prefix for every test (after --), e.g. a wrapper script.
        #[arg(last = true)]
        prefix: Vec<String>,
    },
    /// Write the compatibility report (every syscall of THE table joined with conformance results).
    Compat {
        /// The sentry binary whose table is documented.
        #[arg(long, value_name = "PATH")]
        sentry: Option<PathBuf>,
        /// Results written by `conformance run --json FILE`.
        #[arg(long, value_name = "FILE")]
        results: Option<PathBuf>,
        /// Where to write the report.
        #[arg(long, value_name = "FILE", default_value = "docs/compat.md")]
        out: PathBuf,
    },
    /// The escape suite: adversarial programs under the sentry, judged from outside the sandbox.
    Escape {
        /// The sentry binary (default: next to this one).
        #[arg(long, value_name = "PATH")]
        sentry: Option<PathBuf>,
        /// The sentry's platform for every attack (`sentry exec --platform`); default: the sentry's own choice.
        #[arg(long, value_parser = ["seccomp", "ptrace", "auto"])]
        platform: Option<String>,
    },
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run {
            platform,
            filter,
            jobs,
            json,
            sentry,
            probe,
            timeout,
            keep,
        } => {
            let opts = RunOpts {
                platforms: platform.platforms(),
                filter,
                jobs: jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
                json,
                sentry: sentry.unwrap_or_else(|| sibling("sentry")),
                probe: probe.unwrap_or_else(|| sibling("probe")),
                timeout: Duration::from_secs(timeout),
                keep,
            };
            match runner::run(&opts) {
                Ok(r) => {
                    print!("{}", report::render(&r));
                    if r.totals.failed == 0 {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("conformance: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::External {
            format,
            list,
            sentry,
            platform,
            timeout,
            json,
            prefix,
        } => {
            let opts = ExternalOpts {
                format: match format {
                    FormatArg::Ltp => Format::Ltp,
                    FormatArg::Gtest => Format::Gtest,
                    FormatArg::ExitCode => Format::ExitCode,
                },
                list,
                sentry: sentry.unwrap_or_else(|| sibling("sentry")),
                platforms: platform.platforms(),
                timeout: Duration::from_secs(timeout),
                json,
                prefix,
            };
            match external::run(&opts) {
                Ok(r) => {
                    print!("{}", external::render(&r));
                    if r.totals.failed == 0 {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("conformance external: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Compat {
            sentry,
            results,
            out,
        } => {
            match compat::write(
                &sentry.unwrap_or_else(|| sibling("sentry")),
                results.as_deref(),
                &out,
            ) {
                Ok(n) => {
                    println!("wrote {} ({n} syscalls)", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("conformance compat: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Escape { sentry, platform } => {
            let sentry = sentry.unwrap_or_else(|| sibling("sentry"));
            if let Some(p) = &platform {
                println!("platform: {p}");
            }
            conformance::escape::set_platform(platform);
            // Each case runs in its own workspace: a relative path would no longer name the binary.
            let sentry = std::fs::canonicalize(&sentry).unwrap_or(sentry);
            let verdicts = conformance::escape::run_all(&sentry);
            for v in &verdicts {
                println!(
                    "{:<8} {}  [{}]",
                    if v.blocked { "blocked" } else { "ESCAPED" },
                    v.name,
                    v.detail
                );
            }
            let blocked = verdicts.iter().filter(|v| v.blocked).count();
            println!("{blocked} blocked, {} escaped", verdicts.len() - blocked);
            if blocked == verdicts.len() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
