//! `elixir-scope inspect` on real beams and on broken files.

use std::path::Path;
use std::process::Command;

use support::elixir_lib;

fn inspect(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(support::elixir_scope_bin())
        .arg("inspect")
        .args(args)
        .output()
        .expect("running elixir-scope");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn describes_an_elixir_and_an_erlang_beam() {
    let enum_beam = elixir_lib().join("elixir/ebin/Elixir.Enum.beam");
    let lists = support::otp_root().join("lib");
    let lists_beam = std::fs::read_dir(&lists)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("stdlib-")
        })
        .unwrap()
        .join("ebin/lists.beam");
    let (ok, stdout, stderr) = inspect(&[
        enum_beam.to_str().unwrap(),
        lists_beam.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["module"], "Elixir.Enum");
    assert_eq!(lines[0]["debug_info"], "elixir_erl");
    assert_eq!(lines[1]["module"], "lists");
    assert_eq!(lines[1]["debug_info"], "erl_abstract_code");
    for line in &lines {
        assert!(line["exports"].as_u64().unwrap() > 50);
        assert!(line["functions"].as_u64() > line["exports"].as_u64());
        assert_eq!(line["instrumented"], serde_json::Value::Null);
        assert_eq!(line["compressed"], false);
        let chunks: Vec<&str> = line["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        for id in ["AtU8", "Code", "ExpT", "Dbgi"] {
            assert!(chunks.contains(&id), "{chunks:?} lacks {id}");
        }
    }

    let (ok, text, _) = inspect(&[enum_beam.to_str().unwrap()]);
    assert!(ok);
    assert!(text.contains("module        Elixir.Enum"), "{text}");
    assert!(text.contains("debug_info    elixir_erl"), "{text}");
    assert!(text.contains("instrumented  no"), "{text}");
}

#[test]
fn reports_every_broken_file_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let good = elixir_lib().join("elixir/ebin/Elixir.Map.beam");
    let good_bytes = std::fs::read(&good).unwrap();
    let cases = [
        (write("empty.beam", b""), "empty file"),
        (
            write("truncated.beam", &good_bytes[..good_bytes.len() / 2]),
            "declares",
        ),
        (write("magic.beam", b"NOPE\0\0\0\x04BEAM"), "wrong magic"),
        (
            {
                let mut b = good_bytes.clone();
                // The first chunk's size field: claim more than the file holds.
                b[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
                write("chunk.beam", &b)
            },
            "only",
        ),
        (dir.path().to_str().unwrap().to_string(), "is a directory"),
        (
            dir.path()
                .join("missing.beam")
                .to_str()
                .unwrap()
                .to_string(),
            "No such file",
        ),
    ];
    let mut args: Vec<&str> = cases.iter().map(|(p, _)| p.as_str()).collect();
    args.push(good.to_str().unwrap());
    let (ok, stdout, stderr) = inspect(&args);
    assert!(!ok, "must exit non-zero");
    assert!(
        stdout.contains("Elixir.Map"),
        "the good file is still reported:\n{stdout}"
    );
    for (path, expected) in &cases {
        let line = stderr
            .lines()
            .find(|l| l.contains(path.as_str()) && l.contains(expected))
            .unwrap_or_else(|| panic!("no error naming {path} and {expected:?} in:\n{stderr}"));
        assert!(line.starts_with("error: "), "{line}");
    }
    assert!(stderr.contains(&format!("{} of 7 files could not be read", cases.len())));
    assert!(Path::new(&cases[0].0).exists());
}
