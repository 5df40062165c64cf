//! `elixir-scope export [--db PATH] [--run N | --node NAME [--cookie C] [--cluster]] --format
//! chrome|speedscope|folded -o FILE`: a whole run for Perfetto or chrome://tracing, streamed
//! (see `crate::export::chrome`), or as a flame graph for speedscope
//! (`crate::export::speedscope`) or inferno and flamegraph.pl (`crate::export::folded`). With
//! `--cluster`, every node's run in one trace, a process per node, with the requests that
//! crossed nodes as arrows.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use analysis::walk::Scope;
use beam_rewrite::{Permissions, Replacement};

use crate::export::{chrome, folded, speedscope};
use crate::query::text::{count, counted};
use crate::query::{QueryError, Source};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The Chrome trace event format (JSON), which Perfetto and chrome://tracing open.
    Chrome,
    /// speedscope's file format (JSON): one evented profile per process.
    Speedscope,
    /// Folded stacks for inferno and flamegraph.pl: `a;b;c NS` with NS the nanoseconds of own
    /// time spent in that stack.
    Folded,
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
    /// The file to write (replaced atomically when complete; a symbolic link's target is
    /// replaced; a pipe or character device such as /dev/stdout is written to directly).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// A writer that counts the bytes written through it (the output may be a pipe, whose size
/// the file system does not know).
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W> Counted<W> {
    fn new(inner: W) -> Counted<W> {
        Counted { inner, bytes: 0 }
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the export; exits 1 when the recording cannot be read or the file written. The
/// summary goes to stdout, or to stderr when the export itself went to a pipe or a device
/// (`-o /dev/stdout`), so that it never mixes with the export.
pub fn run(args: &Args) -> ExitCode {
    match export(args) {
        Ok((summary, true)) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        result => crate::query::report(result.map(|(summary, _)| summary)),
    }
}

/// The summary, and whether the output was written through (a pipe or a device).
fn export(args: &Args) -> Result<(String, bool), QueryError> {
    let started = Instant::now();
    let write_error = |source: std::io::Error| QueryError::Write {
        path: args.output.clone(),
        source,
    };
    let export_error = |e| match e {
        chrome::ExportError::Io(source) => write_error(source),
        chrome::ExportError::Store(e) => QueryError::Store(e),
    };
    if args.source.is_cluster() {
        if args.format != Format::Chrome {
            return Err(QueryError::Option {
                option: "--cluster",
                problem: "a cluster exports as Chrome trace events only (--format chrome)"
                    .to_string(),
            });
        }
        let cluster = args.source.cluster()?;
        let output =
            Replacement::begin(&args.output, Permissions::OwnerOnly).map_err(write_error)?;
        let mut out = BufWriter::with_capacity(1 << 20, Counted::new(output));
        let exported = chrome::write_cluster(&cluster, &mut out).map_err(export_error)?;
        let nodes: Vec<String> = cluster
            .snapshots()
            .iter()
            .map(|s| format!("{} (run {})", s.run().info.node, s.run().id))
            .collect();
        let what = format!(
            "{} as Chrome trace events: {} ({} raised) on {}",
            nodes.join(", "),
            counted(exported.calls, "call", "calls"),
            count(exported.exceptions),
            counted(exported.processes, "process", "processes"),
        );
        return finish(out, what, started, write_error, &args.output);
    }
    let snap = args.source.snapshot()?;
    let output = Replacement::begin(&args.output, Permissions::OwnerOnly).map_err(write_error)?;
    let mut out = BufWriter::with_capacity(1 << 20, Counted::new(output));
    let run = snap.run().id;
    let what = match args.format {
        Format::Chrome => {
            let exported = chrome::write(&snap, &mut out).map_err(export_error)?;
            format!(
                "run {run} as Chrome trace events: {} ({} raised) on {}, {}",
                counted(exported.calls, "call", "calls"),
                count(exported.exceptions),
                counted(exported.processes, "process", "processes"),
                counted(exported.messages, "message", "messages"),
            )
        }
        Format::Speedscope => {
            let evented = analysis::flame::evented(&snap, &Scope::default())?;
            let written = speedscope::write(&snap, &evented, &mut out).map_err(write_error)?;
            format!(
                "run {run} for speedscope: {} on {}",
                counted(written.calls, "call", "calls"),
                counted(written.processes, "process", "processes"),
            )
        }
        Format::Folded => {
            let stacks = analysis::flame::folded(&snap, &Scope::default())?;
            let written = folded::write(&stacks, &mut out).map_err(write_error)?;
            format!(
                "run {run} as folded stacks (ns of own time): {} of {}",
                counted(written.stacks, "stack", "stacks"),
                counted(written.calls, "call", "calls"),
            )
        }
    };
    finish(out, what, started, write_error, &args.output)
}

/// Completes the file (renamed into place when whole) and says what it holds: the summary,
/// and whether the output was written through (a pipe or a device).
fn finish(
    out: BufWriter<Counted<Replacement>>,
    what: String,
    started: Instant,
    write_error: impl Fn(std::io::Error) -> QueryError,
    output: &std::path::Path,
) -> Result<(String, bool), QueryError> {
    let counted_output = out.into_inner().map_err(|e| write_error(e.into_error()))?;
    let bytes = counted_output.bytes;
    let through = counted_output.inner.writes_through();
    counted_output.inner.commit().map_err(write_error)?;
    let summary = format!(
        "{}: {what}, {} bytes, in {:.2}s",
        output.display(),
        count(bytes),
        started.elapsed().as_secs_f64()
    );
    Ok((summary, through))
}
