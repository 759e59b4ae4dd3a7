//! The `sentry` binary: arguments in, exit code out. Everything else is in the library.

#![forbid(unsafe_code)]

fn main() {
    std::process::exit(sentry::cli::main());
}
