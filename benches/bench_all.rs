//! Reruns every benchmark of the project and rewrites the summary table of BENCHMARKS.md:
//!
//! ```sh
//! cargo run --release -p elixir-scope-benches --bin bench-all
//! ```
//!
//! It runs, in this order, and prints their output as it goes:
//! 1. the criterion benches (`cargo bench -p elixir-scope-benches`): BEAM codec, ring,
//!    encoder, batched store writes, queries, analyses (profiles, flame stacks);
//! 2. `benches/runtime_overhead.sh`: a wrapped call side by side with `dbg`, capture and
//!    drain rates, huge arguments;
//! 3. `benches/rewrite_vs_cover.sh`: every function of Elixir's `elixir` app wrapped against
//!    `cover` instrumenting every line (whole processes, side by side), and the balanced plan;
//! 4. `benches/compile_loop.sh`: `instrument` in the edit-compile loop (nothing changed, one
//!    module changed; whole processes).
//!
//! Then it replaces what lies between `<!-- bench-all:begin -->` and `<!-- bench-all:end -->`
//! in BENCHMARKS.md with the figures of this run (criterion medians, every line of
//! `runtime_overhead.sh` that ends in a number, and the rows of the other two scripts'
//! tables), dated. The sections below the table keep the explanations.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const BEGIN: &str = "<!-- bench-all:begin -->";
const END: &str = "<!-- bench-all:end -->";

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf();
    match run(&root) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-all: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(root: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    echo_run(
        Command::new(&cargo)
            .args(["bench", "-p", "elixir-scope-benches"])
            .current_dir(root),
    )?;
    let criterion = criterion_medians(&target_dir(root).join("criterion"))?;
    let overhead =
        echo_run(Command::new(root.join("benches/runtime_overhead.sh")).current_dir(root))?;
    let rewrite =
        echo_run(Command::new(root.join("benches/rewrite_vs_cover.sh")).current_dir(root))?;
    let compile_loop =
        echo_run(Command::new(root.join("benches/compile_loop.sh")).current_dir(root))?;

    let date = Command::new("date")
        .arg("+%F")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut table = format!(
        "Figures of the last `bench-all` run, {date}, {cpus} CPUs (compare ratios, not absolute\n\
         times, across runs):\n\n| benchmark | figure |\n|---|---|\n"
    );
    for (name, median) in &criterion {
        let rate = median.elements.map_or(String::new(), |n| {
            format!(" ({:.2} M per second)", n / median.ns * 1e3)
        });
        table.push_str(&format!(
            "| criterion: {name} (median) | {}{rate} |\n",
            duration(median.ns)
        ));
    }
    for (label, value) in numbered_lines(&overhead) {
        table.push_str(&format!("| runtime_overhead.sh: {label} | {value} |\n"));
    }
    for (script, output) in [
        ("rewrite_vs_cover.sh", &rewrite),
        ("compile_loop.sh", &compile_loop),
    ] {
        for (what, figure) in table_rows(output) {
            table.push_str(&format!("| {script}: {what} | {figure} |\n"));
        }
    }
    rewrite_summary(&root.join("BENCHMARKS.md"), &table)
}

/// Runs a command, echoing its stdout and stderr as they come; returns its stdout.
fn echo_run(command: &mut Command) -> Result<String, String> {
    let program = format!("{:?}", command.get_program());
    let output = command
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|e| format!("{program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    print!("{stdout}");
    if !output.status.success() {
        return Err(format!("{program} failed ({})", output.status));
    }
    Ok(stdout)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// A criterion benchmark's median, and the elements one iteration handles when it declares a
/// throughput (events, for the store's writes).
struct Median {
    ns: f64,
    elements: Option<f64>,
}

/// `(benchmark id, median)` of every criterion benchmark, from
/// `target/criterion/**/new/{benchmark,estimates}.json`, sorted by id.
fn criterion_medians(dir: &Path) -> Result<Vec<(String, Median)>, String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "report") {
                stack.push(path);
            }
        }
        if dir.file_name().is_some_and(|n| n == "new") {
            let read = |name: &str| -> Result<serde_json::Value, String> {
                let file = dir.join(name);
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
            };
            let benchmark = read("benchmark.json")?;
            let id = benchmark["full_id"].as_str().unwrap_or("?").to_string();
            let elements = benchmark["throughput"]["Elements"].as_f64();
            if let Some(ns) = read("estimates.json")?["median"]["point_estimate"].as_f64() {
                found.push((id, Median { ns, elements }));
            }
        }
    }
    if found.is_empty() {
        return Err(format!("no criterion results under {}", dir.display()));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Every `label   number [rest]` line of a script's output, as (label, number and rest): the
/// number is the first one after a gap of two or more spaces (labels may hold numbers, such as
/// `capture from 2 schedulers`); lines without such a gap are headings, not figures.
fn numbered_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let split = (0..line.len()).find(|&i| {
                line[i..].starts_with("  ")
                    && line[i..]
                        .trim_start()
                        .starts_with(|c: char| c.is_ascii_digit())
            })?;
            let (label, value) = line.split_at(split);
            let label = label.trim().trim_end_matches(':');
            (!label.is_empty() && label.chars().any(char::is_alphabetic))
                .then(|| (label.to_string(), value.trim().to_string()))
        })
        .collect()
}

/// The rows of the Markdown table a script prints (`| what | seconds | third column |`), as
/// (what, "seconds s (third column's header: value)"), the value left out when empty.
fn table_rows(text: &str) -> Vec<(String, String)> {
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut lines = text.lines().filter(|l| l.starts_with("| "));
    let Some(header) = lines.next().map(cells) else {
        return Vec::new();
    };
    let third = header.get(2).cloned().unwrap_or_default();
    lines
        .map(cells)
        .filter_map(|row| match row.as_slice() {
            [what, seconds, value] => {
                let value = if value.is_empty() {
                    String::new()
                } else {
                    format!(" ({third}: {value})")
                };
                Some((what.clone(), format!("{seconds} s{value}")))
            }
            _ => None,
        })
        .collect()
}

fn duration(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{ns:.1} ns"),
    }
}

/// Puts `table` between the markers of BENCHMARKS.md (after its first paragraph if they are
/// not there yet), writing the file atomically.
fn rewrite_summary(path: &Path, table: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let block = format!("{BEGIN}\n{table}{END}");
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &text[..begin], &text[end + END.len()..])
        }
        _ => {
            let at = text.find("\n## ").map_or(text.len(), |i| i + 1);
            format!("{}## Summary\n\n{block}\n\n{}", &text[..at], &text[at..])
        }
    };
    let temporary = path.with_extension("md.tmp");
    std::fs::write(&temporary, new)
        .and_then(|_| std::fs::rename(&temporary, path))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("bench-all: rewrote the summary in {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_ending_in_numbers_become_rows() {
        let rows = numbered_lines(
            "ns per call (median of 7 rounds)\n  unwrapped      3.1\n  paused / unwrapped   5.07  (target <= 1.5)\ncapture from 2 schedulers     7170138 events/s\n",
        );
        assert_eq!(
            rows,
            [
                ("unwrapped".to_string(), "3.1".to_string()),
                (
                    "paused / unwrapped".to_string(),
                    "5.07  (target <= 1.5)".to_string()
                ),
                (
                    "capture from 2 schedulers".to_string(),
                    "7170138 events/s".to_string()
                )
            ]
        );
    }

    #[test]
    fn table_rows_carry_the_third_column_under_its_header() {
        let rows = table_rows(
            "round 1\n| 2026-12-03, 2 CPUs | seconds | cover / this |\n|---|---|---|\n| cover | 30.10 | 1.00 |\n| all | 12.00 | 2.51 |\n| blank | 0.31 | |\n",
        );
        assert_eq!(
            rows,
            [
                (
                    "cover".to_string(),
                    "30.10 s (cover / this: 1.00)".to_string()
                ),
                (
                    "all".to_string(),
                    "12.00 s (cover / this: 2.51)".to_string()
                ),
                ("blank".to_string(), "0.31 s".to_string()),
            ]
        );
    }

    #[test]
    fn the_summary_goes_between_the_markers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BENCHMARKS.md");
        std::fs::write(&path, "# B\n\nintro\n\n## Section\ntext\n").unwrap();
        rewrite_summary(&path, "| a | 1 |\n").unwrap();
        rewrite_summary(&path, "| a | 2 |\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(BEGIN).count(), 1);
        assert!(
            text.contains("| a | 2 |") && !text.contains("| a | 1 |"),
            "{text}"
        );
        assert!(text.find("## Summary").unwrap() < text.find("## Section").unwrap());
    }
}
