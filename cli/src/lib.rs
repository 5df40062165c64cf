//! The `elixir-scope` command line: one module per subcommand under [`commands`].
//!
//! The library form exists so that integration tests can call the commands in process.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use bundle;
pub mod commands;
pub use render::export;
pub mod query;

/// Record what a BEAM system does, call by call, and look at it afterwards.
#[derive(Debug, Parser)]
#[command(name = "elixir-scope", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe .beam files: module, debug info, chunks, exports, instrumentation.
    Inspect(commands::inspect::Args),
    /// Show which functions `instrument` would wrap, and why.
    Plan(commands::plan::Args),
    /// Rewrite compiled beams so that planned functions report their calls to the runtime.
    Instrument(commands::instrument::Args),
    /// Put back the original beams that `instrument` rewrote, byte for byte.
    Restore(commands::restore::Args),
    /// Build the Mix archive that gives Mix projects the task `elixir_scope.instrument`.
    MixArchive(commands::mix_archive::Args),
    /// Check what recording needs (toolchain, NIF library, config, database, debug info).
    Doctor(commands::doctor::Args),
    /// List recorded calls, newest first, filtered.
    Calls(commands::calls::Args),
    /// List the calls whose arguments, result or exception hold a value anywhere.
    Search(commands::search::Args),
    /// Find where a value came from: the first call that returned it without being given it.
    Origin(commands::origin::Args),
    /// Print a line about each matching call, as if a log statement had been there.
    Log(commands::log::Args),
    /// Show the call tree under a recorded call.
    Trace(commands::trace::Args),
    /// Show the runs of a recording, and a run's counts and most called functions.
    Stats(commands::stats::Args),
    /// List the processes that crashed, with their reason, what their end caused (EXIT, DOWN,
    /// a supervisor's restart) and what they did last.
    Crashes(commands::crashes::Args),
    /// List the tests a test run recorded, with their calls and what led to each failure.
    Tests(commands::tests::Args),
    /// Export a run for Perfetto or chrome://tracing, or as a flame graph.
    Export(commands::export::Args),
    /// Serve the Execution Cinema: a local web UI to watch, search and step through a recording.
    Serve(commands::serve::Args),
    /// Show where a run's time went, per function (own and total time, percentiles), or the
    /// calls that repeated the same work (--repeated).
    Profile(commands::profile::Args),
    /// Compare two runs: functions that came, went or changed, and results that changed.
    Diff(commands::diff::Args),
    /// Record a running node without recompiling it, through its own call tracing.
    Attach(commands::attach::Args),
    /// Stop what `attach` started on a node, leaving its tracing as it was.
    Detach(commands::attach::DetachArgs),
}

/// Parses the command line, runs the command and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Decoding abstract code recurses as deep as the code nests: run on a large stack.
    beam_format::etf::with_large_stack(move || run(cli))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Inspect(args) => commands::inspect::run(&args),
        Command::Plan(args) => commands::plan::run(&args),
        Command::Instrument(args) => commands::instrument::run(&args),
        Command::Restore(args) => commands::restore::run(&args),
        Command::MixArchive(args) => commands::mix_archive::run(&args),
        Command::Doctor(args) => commands::doctor::run(&args),
        Command::Calls(args) => commands::calls::run(&args),
        Command::Search(args) => commands::search::run(&args),
        Command::Origin(args) => commands::origin::run(&args),
        Command::Log(args) => commands::log::run(&args),
        Command::Trace(args) => commands::trace::run(&args),
        Command::Stats(args) => commands::stats::run(&args),
        Command::Tests(args) => commands::tests::run(&args),
        Command::Crashes(args) => commands::crashes::run(&args),
        Command::Export(args) => commands::export::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Profile(args) => commands::profile::run(&args),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Attach(args) => commands::attach::run(&args),
        Command::Detach(args) => commands::attach::run_detach(&args),
    }
}
