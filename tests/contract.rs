//! The runtime contract, held together. The rewriter builds every call it emits into
//! ElixirScope's modules from one table (`beam_rewrite::contract`); the runtime's part
//! is declared once more as the Erlang behaviour `elixir_scope_contract`, which the product's
//! runtime and the tests' ETS runtime (both named `elixir_scope_runtime`) implement. Here:
//! the behaviour's callbacks are the table's, both runtimes declare the behaviour and export
//! every callback, the gate and `elixir_scope_stacktrace` export what the table calls of them,
//! and modules rewritten from real beams call nothing of ElixirScope outside the table (a
//! fixture written to make every kind of call, and a dozen OTP modules).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use beam_format::debug_info::Backend;
use beam_format::{Beam, DebugInfo, FunctionRef, Tables};
use beam_plan::Capture;
use beam_plan::Plan;
use beam_rewrite::forms;
use beam_rewrite::{contract, patch_module};
use eetf::Term;
use support::{erlang_string, eval_erlang, executable, otp_root};

/// `(module, function, arity)`.
type Mfa = (String, String, usize);

fn mfa(callee: &contract::Callee) -> Mfa {
    (
        callee.module.to_string(),
        callee.function.to_string(),
        callee.arity,
    )
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compiles `sources` into `out` (on the code path, so that behaviours declared there are
/// checked), warnings as errors.
fn erlc(out: &Path, sources: &[PathBuf], options: &[&str]) {
    let output = Command::new(executable("erlc", "erlang-nox"))
        .args(["+warnings_as_errors", "-pa"])
        .arg(out)
        .args(options)
        .arg("-o")
        .arg(out)
        .args(sources)
        .output()
        .expect("running erlc");
    assert!(
        output.status.success(),
        "erlc failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_behaviour_declares_the_rewriters_calls_and_both_runtimes_implement_it() {
    let erlang = workspace().join("runtime_nif/erlang");
    let behaviour = erlang.join("elixir_scope_contract.erl");
    let product = tempfile::tempdir().unwrap();
    let mut sources = vec![behaviour.clone()];
    sources.extend(
        std::fs::read_dir(&erlang)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "erl") && *p != behaviour),
    );
    erlc(product.path(), &sources, &[]);
    let tests = tempfile::tempdir().unwrap();
    erlc(
        tests.path(),
        &[
            behaviour,
            workspace().join("tests/fixtures/test_runtime/elixir_scope_runtime.erl"),
        ],
        &[],
    );

    let beam = |dir: &Path, module: &str| {
        erlang_string(&dir.join(format!("{module}.beam")).to_string_lossy())
    };
    let code = format!(
        "Show = fun(Tag, FAs) -> [io:format(\"~s ~s ~b~n\", [Tag, F, A]) || {{F, A}} <- FAs] end, \
         Show(\"callback\", elixir_scope_contract:behaviour_info(callbacks)), \
         Beam = fun(Tag, File) -> \
             {{ok, {{_, [{{exports, E}}, {{attributes, At}}]}}}} = \
                 beam_lib:chunks(File, [exports, attributes]), \
             Show(Tag, E), \
             [io:format(\"~s behaviour ~s~n\", [Tag, B]) \
              || B <- proplists:get_value(behaviour, At, [])] \
         end, \
         Beam(\"product\", {}), Beam(\"tests\", {}), \
         Beam(\"elixir_scope_gate\", {}), Beam(\"elixir_scope_stacktrace\", {}), \
         halt().",
        beam(product.path(), "elixir_scope_runtime"),
        beam(tests.path(), "elixir_scope_runtime"),
        beam(product.path(), "elixir_scope_gate"),
        beam(product.path(), "elixir_scope_stacktrace"),
    );
    let out = eval_erlang(&code, &["-pa", &product.path().to_string_lossy()]);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split(' ').collect()).collect();
    let named = |tag: &str| -> BTreeSet<(String, usize)> {
        lines
            .iter()
            .filter(|l| l.len() == 3 && l[0] == tag && l[1] != "behaviour")
            .map(|l| (l[1].to_string(), l[2].parse().expect("an arity")))
            .collect()
    };

    let callbacks = named("callback");
    let table: BTreeSet<(String, usize)> = contract::runtime_callbacks()
        .map(|c| (c.function.to_string(), c.arity))
        .collect();
    assert_eq!(
        callbacks, table,
        "the behaviour's callbacks and the rewriter's table"
    );
    for runtime in ["product", "tests"] {
        let exports = named(runtime);
        let missing: Vec<_> = callbacks.difference(&exports).collect();
        assert!(missing.is_empty(), "{runtime} runtime lacks {missing:?}");
        assert!(
            lines.contains(&vec![runtime, "behaviour", contract::BEHAVIOUR]),
            "{runtime} runtime does not declare the behaviour:\n{out}"
        );
    }
    for module in [contract::GATE, contract::STACKTRACE] {
        let exports = named(module);
        for callee in contract::CALLS.iter().filter(|c| c.module == module) {
            assert!(
                exports.contains(&(callee.function.to_string(), callee.arity)),
                "{module} does not export {callee:?}"
            );
        }
    }
}

/// Every kind of call the rewriter makes into the runtime, in one module: `count/2` has
/// capture options (`enter/5`, `tail_call/5`), `walk/1` loops through a local tail call
/// (`tail_call/4`), `loop/1` sends, loops through `?MODULE:loop/1` (`remote_tail_call/3`) and
/// hibernates (`discarding_stack/1`), `safe/1` catches a stack trace (`clean/1`), `peek/0`
/// reads what the runtime cleans.
const FIXTURE: &str = r#"
-module(contract_fixture).
-export([count/2, loop/1, safe/1, peek/0]).

count(0, Acc) -> Acc;
count(N, Acc) -> count(N - 1, Acc + 1).

walk([]) -> ok;
walk([_ | T]) -> walk(T).

loop(State) ->
    receive
        {From, get} -> From ! {self(), State}, ?MODULE:loop(State);
        sleep -> erlang:hibernate(?MODULE, loop, [State]);
        stop -> walk([State])
    end.

safe(F) ->
    try F() catch C:R:S -> {C, R, S} end.

peek() ->
    {process_info(self(), current_function), get(), get_keys(), erase(),
     erlang:fun_info(fun walk/1)}.
"#;

/// The remote calls into modules named `elixir_scope_*` anywhere in `term`.
fn elixir_scope_calls(term: &Term, found: &mut BTreeSet<Mfa>) {
    let literal = |t: &Term| match forms::tagged(t, "atom") {
        Some([_, _, name]) => forms::atom_name(name).map(str::to_string),
        _ => None,
    };
    if let Some([_, _, callee, args]) = forms::tagged(term, "call") {
        if let Some([_, _, module, function]) = forms::tagged(callee, "remote") {
            if let (Some(m), Some(f), Some(args)) = (
                literal(module),
                literal(function),
                forms::list_elements(args),
            ) {
                if m.starts_with("elixir_scope") {
                    found.insert((m, f, args.len()));
                }
            }
        }
    }
    match term {
        Term::Tuple(t) => t.elements.iter().for_each(|e| elixir_scope_calls(e, found)),
        Term::List(l) => l.elements.iter().for_each(|e| elixir_scope_calls(e, found)),
        _ => {}
    }
}

/// Patches every function of the beam at `path` (with capture options for `captured`) and
/// returns the calls into ElixirScope's modules the patched forms make.
fn calls_after_rewrite(path: &Path, captured: &[(&str, u32)]) -> BTreeSet<Mfa> {
    let bytes = std::fs::read(path).unwrap();
    let beam = Beam::parse(&bytes).unwrap();
    let module = Tables::decode(&beam).unwrap().module().to_string();
    let info = DebugInfo::decode(&beam).unwrap().expect("debug info");
    assert!(matches!(info.backend, Backend::ErlAbstractCode), "{path:?}");
    let Term::Tuple(data) = info.data else {
        panic!("{path:?}: erl_abstract_code data")
    };
    let forms = forms::list_elements(&data.elements[0]).unwrap().to_vec();
    let options = forms::list_elements(&data.elements[1]).unwrap().to_vec();
    let mut plan = Plan::everything().for_module(&module);
    for (name, arity) in captured {
        let function = FunctionRef {
            name: name.to_string(),
            arity: *arity,
        };
        let capture = Capture {
            arguments: false,
            ..Capture::default()
        };
        plan.capture.insert(function, capture);
    }
    let patched = patch_module(&plan, forms, &options).unwrap();
    assert!(!patched.wrapped.is_empty(), "{path:?}: nothing wrapped");
    let mut found = BTreeSet::new();
    patched
        .forms
        .iter()
        .for_each(|form| elixir_scope_calls(form, &mut found));
    found
}

#[test]
fn rewritten_modules_call_nothing_of_elixir_scope_outside_the_contract() {
    let table: BTreeSet<Mfa> = contract::CALLS.iter().map(mfa).collect();

    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("contract_fixture.erl");
    std::fs::write(&source, FIXTURE).unwrap();
    erlc(dir.path(), &[source], &["+debug_info"]);
    let fixture = calls_after_rewrite(&dir.path().join("contract_fixture.beam"), &[("count", 2)]);
    assert_eq!(
        fixture, table,
        "the fixture makes every call of the contract, and no other"
    );

    let stdlib = std::fs::read_dir(otp_root().join("lib"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("stdlib-"))
        })
        .expect("OTP's stdlib")
        .join("ebin");
    let mut seen = BTreeSet::new();
    for module in [
        "proc_lib",
        "gen_server",
        "gen_statem",
        "gen_fsm",
        "gen",
        "supervisor",
        "sys",
        "lists",
        "erl_eval",
        "erl_error",
        "c",
        "dets_utils",
    ] {
        let path = stdlib.join(format!("{module}.beam"));
        let calls = calls_after_rewrite(&path, &[]);
        let outside: Vec<_> = calls.difference(&table).collect();
        assert!(outside.is_empty(), "{module} calls {outside:?}");
        seen.extend(calls);
    }
    // The wrappers' calls, at least, were found: the walk sees calls.
    for callee in [contract::GATE_ON, contract::ENTER, contract::RETURN] {
        assert!(seen.contains(&mfa(&callee)), "{callee:?} not seen");
    }
}
