//! Every beam with debug info of the installed Elixir and OTP, rewritten with all functions
//! wrapped: no failure, each result passes the real loader in a fresh VM, a second run does
//! nothing, and restore gives back every original byte for byte. Kill -9 in the middle of a run
//! leaves each file either original or completely rewritten.

mod rewrite_support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use beam_format::{Beam, Marker, Tables};
use rewrite_support::{copy_sources, elixir_scope, failures, files, run_json, snapshot, total};
use support::{elixir_lib, elixir_scope_bin, eval_erlang, otp_root};

/// Copies `ROOT/lib/*/ebin` of the installed Elixir and OTP to `into/{elixir,otp}/lib/*/ebin`.
fn copy_installed_beams(into: &Path) -> Vec<PathBuf> {
    let elixir_root = elixir_lib().parent().unwrap().to_path_buf();
    let mut roots = Vec::new();
    for (name, root) in [("elixir", elixir_root), ("otp", otp_root())] {
        let target = into.join(name);
        for app in std::fs::read_dir(root.join("lib")).unwrap() {
            let app = app.unwrap().path();
            let ebin = app.join("ebin");
            if ebin.is_dir() {
                copy_sources(
                    &ebin,
                    &target
                        .join("lib")
                        .join(app.file_name().unwrap())
                        .join("ebin"),
                );
            }
        }
        roots.push(target);
    }
    roots
}

fn jobs() -> String {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .to_string()
}

#[test]
fn every_installed_beam_is_rewritten_loads_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let roots = copy_installed_beams(dir.path());
    let roots: Vec<&str> = roots.iter().map(|r| r.to_str().unwrap()).collect();
    let originals = snapshot(dir.path());
    assert!(originals.len() > 1000, "found {} beams", originals.len());

    let mut args = roots.clone();
    let jobs = jobs();
    args.extend(["--jobs", &jobs, "--strategy", "all"]);
    let report = run_json("instrument", &args);
    assert_eq!(failures(&report), Vec::<String>::new());
    assert_eq!(total(&report, "scanned"), originals.len() as u64);
    // Skipped modules have nothing to wrap (no functions, or only macros, NIF stubs and
    // generated ones); anything else would be a failure of the rewriter.
    for file in files(&report) {
        if file["outcome"] == "skipped" {
            let reason = file["reason"].as_str().unwrap();
            assert!(
                reason == "defines no functions"
                    || reason == "none of the planned functions can be wrapped",
                "{}: skipped: {reason}",
                file["module"]
            );
        }
    }
    assert!(total(&report, "rewritten") > 1100);

    // Every rewritten beam passes the loader's checks in a fresh VM (prepare_loading works
    // for sticky and already loaded modules too).
    let mut manifest = String::new();
    for file in files(&report) {
        if file["outcome"] == "rewritten" {
            writeln!(
                manifest,
                "{{<<{:?}/utf8>>, {:?}}}.",
                file["module"].as_str().unwrap(),
                file["path"].as_str().unwrap()
            )
            .unwrap();
        }
    }
    let manifest_path = dir.path().join("manifest.eterm");
    std::fs::write(&manifest_path, &manifest).unwrap();
    let script = format!(
        r#"{{ok, Entries}} = file:consult({path:?}),
        Bad = [{{Name, Why}} || {{Name, Path}} <- Entries,
               {{error, Why}} <- [begin {{ok, Bin}} = file:read_file(Path),
                                       erlang:prepare_loading(binary_to_atom(Name, utf8), Bin)
                                 end]],
        io:format("checked ~p~n", [length(Entries)]),
        [io:format("FAILED ~p~n", [B]) || B <- Bad],
        halt()."#,
        path = manifest_path.display().to_string()
    );
    let output = eval_erlang(&script, &[]);
    let expected = format!("checked {}", manifest.lines().count());
    assert!(
        output.contains(&expected) && !output.contains("FAILED"),
        "loader check failed:\n{output}"
    );

    // A second run has nothing to do.
    let again = run_json("instrument", &args);
    assert_eq!(total(&again, "unchanged"), total(&report, "rewritten"));
    assert_eq!(total(&again, "rewritten"), 0);

    // Restore: every original, byte for byte.
    let restored = run_json("restore", &roots);
    assert_eq!(total(&restored, "restored"), total(&report, "rewritten"));
    let now = snapshot(dir.path());
    let differing: Vec<&PathBuf> = originals
        .iter()
        .filter(|(path, bytes)| now.get(*path) != Some(*bytes))
        .map(|(path, _)| path)
        .collect();
    assert!(differing.is_empty(), "not restored: {differing:?}");
}

/// How many of the files differ from their original.
fn changed(originals: &std::collections::BTreeMap<PathBuf, Vec<u8>>) -> usize {
    originals
        .iter()
        .filter(|(path, bytes)| std::fs::read(path).map_or(true, |now| &now != *bytes))
        .count()
}

#[test]
fn killing_the_rewriter_leaves_every_beam_original_or_complete() {
    let dir = tempfile::tempdir().unwrap();
    let ebin = dir.path().join("ebin");
    std::fs::create_dir_all(&ebin).unwrap();
    // 60 modules of Elixir's own: enough for three kills in the middle of a run.
    let mut sources: Vec<PathBuf> = std::fs::read_dir(elixir_lib().join("elixir/ebin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "beam"))
        .collect();
    sources.sort();
    for source in sources.iter().take(60) {
        std::fs::copy(source, ebin.join(source.file_name().unwrap())).unwrap();
    }
    let originals = snapshot(&ebin);
    let ebin_arg = ebin.to_str().unwrap();

    // Kill it three times, each time right after it wrote more files; whenever that is, each
    // file must be either the original or a complete rewrite whose marker rebuilds the original.
    let mut rewritten_before = 0;
    for round in 0..3 {
        let mut child = Command::new(elixir_scope_bin())
            .args(["instrument", ebin_arg, "--jobs", "2", "--no-runtime"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let target = rewritten_before + 1 + round * 10;
        let finished = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            if changed(&originals) >= target {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        assert!(!finished, "the run ended before it could be killed");
        let mut rewritten = 0;
        for (path, original) in &originals {
            let bytes = std::fs::read(path).unwrap();
            if &bytes == original {
                continue;
            }
            rewritten += 1;
            let beam = Beam::parse(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            Tables::decode(&beam).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let marker = Marker::find(&beam).unwrap().expect("a rewritten beam");
            assert_eq!(&marker.original_bytes(&beam).unwrap(), original, "{path:?}");
        }
        assert!(rewritten >= target && rewritten < originals.len());
        rewritten_before = rewritten;
    }
    // Left-over temporary files are not beams; a full run then completes the job.
    let (ok, _, stderr) = elixir_scope(&["instrument", ebin_arg]);
    assert!(ok, "{stderr}");
    let restored = run_json("restore", &[ebin_arg]);
    assert!(total(&restored, "restored") as usize > originals.len() / 2);
    assert_eq!(snapshot(&ebin), originals);
}
