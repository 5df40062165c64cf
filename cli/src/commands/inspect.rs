//! `elixir-scope inspect FILE.beam... [--json]`: describe beams.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use beam_format::Summary;

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .beam files to describe.
    #[arg(required = true, value_name = "FILE.beam")]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per file instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Describes every file, then exits non-zero if any could not be read.
pub fn run(args: &Args) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0;
    for (i, path) in args.files.iter().enumerate() {
        let result = Summary::of_file(path);
        let written = match (&result, args.json) {
            (Ok(summary), true) => writeln!(out, "{}", json(summary)),
            (Ok(summary), false) => {
                let gap = if i == 0 { "" } else { "\n" };
                write!(out, "{gap}{}", render(summary))
            }
            (Err(e), true) => writeln!(
                out,
                "{}",
                serde_json::json!({ "path": path.display().to_string(), "error": e.to_string() })
            ),
            (Err(_), false) => Ok(()),
        };
        if written.is_err() {
            return ExitCode::FAILURE; // stdout closed (e.g. piped into `head`)
        }
        if let Err(e) = result {
            failed += 1;
            let _ = out.flush();
            eprintln!("error: {e}");
        }
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} files could not be read",
            args.files.len()
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn json(summary: &Summary) -> String {
    serde_json::to_string(summary).expect("a summary is always serializable")
}

/// The text form of a summary.
pub fn render(s: &Summary) -> String {
    let instrumented = match &s.instrumented {
        None => "no".to_string(),
        Some(i) => format!(
            "yes (elixir-scope {}, {} functions wrapped, plan {})",
            i.tool_version,
            i.wrapped,
            &i.plan_hash[..i.plan_hash.len().min(12)]
        ),
    };
    let mut text = format!(
        "{}\n  module        {}\n  debug_info    {}\n  compressed    {}\n  instrumented  {}\n  exports       {}\n  functions     {}\n  chunks        {}\n",
        s.path,
        s.module,
        s.debug_info,
        if s.compressed { "yes" } else { "no" },
        instrumented,
        s.exports,
        s.functions,
        s.chunks.len(),
    );
    let width = s
        .chunks
        .iter()
        .map(|c| c.size.to_string().len())
        .max()
        .unwrap_or(1);
    for c in &s.chunks {
        text.push_str(&format!("    {:<6}{:>width$} bytes\n", c.id, c.size));
    }
    text
}
