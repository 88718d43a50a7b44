//! The `rebound` executable: parses the command line and hands it to [`rebound::run`]. Errors are
//! printed once, with their causes, and turn into a non-zero exit status; nothing panics on bad input.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: a request allocates many small short-lived objects
/// (JSON values, strings, futures) across worker threads, where glibc's malloc showed up as ~7% of
/// server CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = rebound::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rebound: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rebound::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rebound: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
