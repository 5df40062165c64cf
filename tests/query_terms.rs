//! The CLI prints recorded values the way the VM does: for a corpus of terms (atoms that need
//! quotes or not, strings, charlists, keyword lists, maps, structs, floats of every magnitude,
//! pids, references), `elixir` prints each term's external format with `inspect/2` and `~0tp`,
//! and `term` must print the same from the bytes alone.

use std::process::Command;

use support::executable;
use term::Style;

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn the_term_printer_matches_inspect_and_tilde_p() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/query/terms.exs");
    let output = Command::new(executable("elixir", "elixir"))
        .arg(&script)
        .output()
        .expect("running elixir");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for line in stdout.lines() {
        let mut fields = line.split('\t');
        let (Some(bytes), Some(elixir), Some(erlang)) =
            (fields.next(), fields.next(), fields.next())
        else {
            panic!("a corpus line has three fields: {line}");
        };
        let term = term::decode(&hex(bytes)).expect("the VM's own encoding decodes");
        for (style, expected) in [
            (Style::Elixir, unescape(elixir)),
            (Style::Erlang, unescape(erlang)),
        ] {
            let printed = style.term(&term);
            if printed != expected {
                mismatches.push(format!(
                    "{style:?}: printed {printed}, the VM prints {expected}"
                ));
            }
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} terms in the corpus");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
