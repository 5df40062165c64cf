//! `elixir-scope export [--db PATH] [--run N] --format chrome -o FILE.json`: a whole run for
//! Perfetto or chrome://tracing, streamed (see `crate::export::chrome`).

use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::export::chrome;
use crate::query::text::{count, counted};
use crate::query::{QueryError, Source};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The Chrome trace event format (JSON), which Perfetto and chrome://tracing open.
    Chrome,
}

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
    /// The format to write.
    #[arg(long, value_enum, default_value_t = Format::Chrome)]
    pub format: Format,
    /// The file to write (replaced atomically when complete).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Writes the export; exits 1 when the recording cannot be read or the file written.
pub fn run(args: &Args) -> ExitCode {
    crate::query::report(export(args))
}

fn export(args: &Args) -> Result<String, QueryError> {
    let started = Instant::now();
    let snap = args.source.snapshot()?;
    let write_error = |source: std::io::Error| QueryError::Write {
        path: args.output.clone(),
        source,
    };
    let dir = args
        .output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let temp = tempfile::Builder::new()
        .prefix(".elixir-scope-export-")
        .tempfile_in(&dir)
        .map_err(write_error)?;
    let mut out = BufWriter::with_capacity(1 << 20, temp);
    let exported = match args.format {
        Format::Chrome => chrome::write(&snap, &mut out).map_err(|e| match e {
            chrome::ExportError::Io(source) => write_error(source),
            chrome::ExportError::Store(e) => QueryError::Store(e),
        })?,
    };
    let temp = out.into_inner().map_err(|e| write_error(e.into_error()))?;
    temp.as_file().sync_all().map_err(write_error)?;
    temp.persist(&args.output)
        .map_err(|e| write_error(e.error))?;
    let bytes = std::fs::metadata(&args.output).map_or(0, |m| m.len());
    Ok(format!(
        "{}: run {} as Chrome trace events: {} ({} raised) on {}, {} bytes, in {:.2}s",
        args.output.display(),
        snap.run().id,
        counted(exported.calls, "call", "calls"),
        count(exported.exceptions),
        counted(exported.processes, "process", "processes"),
        count(bytes),
        started.elapsed().as_secs_f64()
    ))
}
