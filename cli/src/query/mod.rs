//! Reading recordings from the command line, after the VM stopped: where the database is
//! ([`db`]), which calls ([`filter`]), the runs of a cluster's nodes ([`cluster`]); how they
//! print is the `render` crate's ([`call`], [`tree`], [`table`], [`json`], [`text`]).

pub mod cluster;
pub mod db;
pub mod filter;

pub use render::{call, json, table, text, tree};

pub use db::{QueryError, Runs, Source};

/// Prints a command's text, or its error on stderr, and gives the exit code (1 on error).
pub fn report(result: Result<String, QueryError>) -> std::process::ExitCode {
    use std::io::Write as _;
    match result {
        Ok(text) => {
            // A closed pipe (`| head`) is not worth an error.
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
