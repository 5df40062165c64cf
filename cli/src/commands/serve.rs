//! `elixir-scope serve [--db PATH] [--run N] [--port P] [--open]`: the Execution Cinema, a
//! local web UI over a recording (the `cinema` crate does the work).

use std::io::Write as _;
use std::process::ExitCode;

use crate::query::{QueryError, Source};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read; `--run` is the run the page opens first.
    #[command(flatten)]
    pub source: Source,
    /// The port on 127.0.0.1 [default: a free one].
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,
    /// Open the page in the default browser (`xdg-open`, `open` on macOS).
    #[arg(long)]
    pub open: bool,
}

/// Serves until interrupted; exits 1 when the recording cannot be read or the port bound.
pub fn run(args: &Args) -> ExitCode {
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("elixir-scope serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why `serve` stopped.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Cinema(#[from] cinema::CinemaError),
}

fn serve(args: &Args) -> Result<(), ServeError> {
    let (reader, run) = args.source.store_and_run()?;
    let path = reader.path().to_path_buf();
    if let Some(run) = run {
        reader.run(run).map_err(QueryError::from)?;
    }
    let options = cinema::ServeOptions {
        port: args.port,
        run,
    };
    let open = args.open;
    cinema::serve(reader, &options, |url| {
        // One line, flushed: scripts and tests read it to find the page.
        println!("{url}");
        let _ = std::io::stdout().flush();
        eprintln!(
            "elixir-scope serve: {} on 127.0.0.1 (Ctrl-C stops it; the URL's token is the only \
             way in)",
            path.display()
        );
        if open {
            let opener = if cfg!(target_os = "macos") {
                "open"
            } else {
                "xdg-open"
            };
            if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
                eprintln!("elixir-scope serve: cannot run {opener}: {e}; open the URL above");
            }
        }
    })?;
    Ok(())
}
