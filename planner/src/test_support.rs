//! Unit-test fixtures: small Erlang and Elixir modules (`planner/tests/fixtures`), compiled
//! once per test run with the installed `erlc` and `elixirc`, analyzed into facts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use beam_rewrite::{HelperConfig, Launcher};

use crate::analyzer;
use crate::facts::ModuleFacts;
use crate::source::{self, Code};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn compile(program: &str, args: &[&str], source: &Path, out: &Path) {
    let output = Command::new(program)
        .args(args)
        .arg("-o")
        .arg(out)
        .arg(source)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): apt-get install -y erlang-nox elixir")
        });
    assert!(output.status.success(), "{program} failed: {output:?}");
}

fn analyze_dir(dir: &Path) -> Vec<ModuleFacts> {
    let launcher = Launcher::new(HelperConfig::discover().expect("erl on PATH")).unwrap();
    beam_format::etf::with_large_stack(|| {
        let mut helper = None;
        let mut beams: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "beam"))
            .collect();
        beams.sort();
        beams
            .iter()
            .map(|beam| {
                let mut ask = |module: &str, dbgi: &[u8]| {
                    let h = helper.get_or_insert_with(|| launcher.start().unwrap());
                    h.forms(module, dbgi)
                };
                match source::code(beam, &mut ask).unwrap() {
                    Code::Forms { forms, elixir } => analyzer::analyze(&forms, elixir).unwrap(),
                    Code::Unavailable(why) | Code::UnavailableHere(why) => {
                        panic!("{beam:?}: {why}")
                    }
                }
            })
            .collect()
    })
}

/// The facts of `tests/fixtures/facts_erl.erl` and `facts_ex.ex`.
pub fn fixture_facts() -> &'static [ModuleFacts] {
    static FACTS: OnceLock<Vec<ModuleFacts>> = OnceLock::new();
    FACTS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        compile(
            "erlc",
            &["+debug_info"],
            &fixture("facts_erl.erl"),
            dir.path(),
        );
        compile("elixirc", &[], &fixture("facts_ex.ex"), dir.path());
        analyze_dir(dir.path())
    })
}

/// The facts of one fixture module.
pub fn module(name: &str) -> &'static ModuleFacts {
    fixture_facts()
        .iter()
        .find(|m| m.module == name)
        .unwrap_or_else(|| panic!("no fixture module {name}"))
}
