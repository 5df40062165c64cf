//! The planner through `elixir-scope plan` and `instrument`: the fixture project, the installed
//! Elixir's eex, the shop example with its path dependencies, the plan cache, and the
//! configuration file.

mod rewrite_support;

use std::collections::BTreeMap;
use std::path::Path;

use beam_format::{Beam, Marker};
use rewrite_support::{copy_sources, elixir_scope, run_json, Fixture};
use serde_json::Value;
use support::{elixir_lib, executable};

/// `elixir-scope plan ARGS --json`, which must succeed.
fn plan(args: &[&str]) -> Value {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    all.push("--json");
    let (ok, stdout, stderr) = elixir_scope(&all);
    assert!(ok, "plan failed:\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("no JSON ({e}):\n{stdout}"))
}

fn module<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == name)
        .unwrap_or_else(|| panic!("no module {name} in the plan"))
}

/// `name/arity` -> (wrap, rule) of a planned module.
fn decisions(plan: &Value, name: &str) -> BTreeMap<String, (bool, String)> {
    module(plan, name)["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                format!(
                    "{}/{}",
                    f["function"]["name"].as_str().unwrap(),
                    f["function"]["arity"]
                ),
                (
                    f["wrap"].as_bool().unwrap(),
                    f["reason"]["rule"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

fn decision(plan: &Value, module: &str, function: &str) -> (bool, String) {
    decisions(plan, module)
        .remove(function)
        .unwrap_or_else(|| panic!("no {module} {function}"))
}

fn d(wrap: bool, rule: &str) -> (bool, String) {
    (wrap, rule.to_string())
}

/// Every exported function that has side effects (itself or through what it calls) and can be
/// wrapped is wrapped.
fn assert_side_effects_kept(plan: &Value) {
    for m in plan["modules"].as_array().unwrap() {
        for f in m["functions"].as_array().unwrap_or(&Vec::new()) {
            let effects = f["effects"].as_array().unwrap();
            let wrappable = f["reason"]["rule"] != "cannot_wrap";
            if f["exported"] == true && wrappable && !effects.is_empty() {
                assert_eq!(f["wrap"], true, "{} {}: {f}", m["module"], f["function"]);
            }
        }
    }
}

#[test]
fn balanced_on_the_fixture_project_then_instrument_follows_the_plan() {
    let fixture = Fixture::compiled();
    let build = fixture.build();
    let build = build.to_str().unwrap();
    let plan = plan(&[build]);
    assert_eq!(plan["strategy"], "balanced");
    assert_eq!(plan["modules"].as_array().unwrap().len(), 13);
    let basics = "Elixir.Fixture.Basics";
    assert_eq!(decision(&plan, basics, "add/2"), d(false, "tiny_hot_leaf"));
    assert_eq!(decision(&plan, basics, "double/1"), d(false, "private"));
    assert_eq!(decision(&plan, basics, "greet/2"), d(true, "public"));
    assert_eq!(
        decision(&plan, basics, "__info__/1"),
        d(false, "cannot_wrap")
    );
    let add = module(&plan, basics)["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"]["name"] == "add")
        .unwrap()
        .clone();
    assert!(
        add["why"]
            .as_str()
            .unwrap()
            .contains("Enum.reduce/3 by sum/1"),
        "{add}"
    );
    let counter = "Elixir.Fixture.Counter";
    for callback in [
        "init/1",
        "handle_call/3",
        "handle_cast/2",
        "handle_info/2",
        "terminate/2",
    ] {
        assert_eq!(
            decision(&plan, counter, callback),
            d(true, "callback"),
            "{callback}"
        );
    }
    assert_eq!(decision(&plan, counter, "value/1"), d(true, "public"));
    assert_eq!(
        decision(&plan, "Elixir.Fixture.Describe.Integer", "describe/1"),
        d(true, "callback")
    );
    assert_eq!(
        decision(&plan, "Elixir.Fixture.OnLoad", "setup/0"),
        d(false, "cannot_wrap")
    );
    assert_eq!(
        decision(&plan, "Elixir.Fixture.Errors", "catch_value/1"),
        d(false, "private")
    );
    let echo = module(&plan, "Elixir.Fixture.Mailbox")["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"]["name"] == "echo_loop")
        .unwrap()
        .clone();
    assert_eq!(echo["recursive"], true);
    assert_eq!(echo["effects"], serde_json::json!(["send", "receive"]));
    assert_side_effects_kept(&plan);
    assert_eq!(plan["totals"]["by_rule"]["tiny_hot_leaf"], 1);

    // instrument follows the same plan.
    let report = run_json("instrument", &[build]);
    assert_eq!(report["totals"]["rewritten"], 13);
    let beam = Beam::read(&fixture.ebin().join("Elixir.Fixture.Basics.beam")).unwrap();
    let wrapped: Vec<String> = Marker::find(&beam)
        .unwrap()
        .unwrap()
        .wrapped
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert!(wrapped.contains(&"greet/2".to_string()), "{wrapped:?}");
    assert!(!wrapped.contains(&"add/2".to_string()), "{wrapped:?}");
    assert!(!wrapped.contains(&"double/1".to_string()), "{wrapped:?}");
    let again = run_json("instrument", &[build]);
    assert_eq!(again["totals"]["unchanged"], 13);
    assert_eq!(again["helpers_started"], 0, "nothing to read or compile");
}

#[test]
fn one_helper_serves_the_planning_and_the_rewriting_of_a_run() {
    let dir = tempfile::tempdir().unwrap();
    for module in ["Keyword", "List", "Tuple"] {
        let name = format!("Elixir.{module}.beam");
        std::fs::copy(
            elixir_lib().join("elixir/ebin").join(&name),
            dir.path().join(&name),
        )
        .unwrap();
    }
    let path = dir.path().to_str().unwrap();
    // balanced analyzes every module (their forms come from a helper), then rewrites them.
    let report = run_json("instrument", &[path, "--jobs", "1"]);
    assert_eq!(report["totals"]["rewritten"], 3);
    assert_eq!(report["helpers_started"], 1);
    // all, with no cache to keep an analysis in: nothing is analyzed, every function wrapped.
    let all = run_json("instrument", &[path, "--jobs", "1", "--strategy", "all"]);
    assert_eq!(all["totals"]["rewritten"], 3);
    assert_eq!(all["helpers_started"], 1);
    let wrapped = |r: &Value| r["totals"]["wrapped_functions"].as_u64().unwrap();
    assert!(wrapped(&all) > wrapped(&report), "private functions too");
}

#[test]
fn a_second_run_over_unchanged_beams_does_no_analysis() {
    let fixture = Fixture::compiled();
    let build = fixture.build();
    let build = build.to_str().unwrap();
    let first = plan(&[build]);
    assert_eq!(first["stats"]["analyzed"], 13);
    assert_eq!(first["stats"]["plan_from_cache"], false);
    let cache = fixture.root().join(".elixir_scope/plan");
    assert!(cache.join("plan.json").is_file() && cache.join("analyses.json").is_file());

    let second = plan(&[build]);
    assert_eq!(second["stats"]["analyzed"], 0);
    assert_eq!(second["stats"]["plan_from_cache"], true);
    assert_eq!(second["stats"]["helpers_started"], 0);
    assert_eq!(second["modules"], first["modules"]);

    // Another strategy: the analyses are reused, only the planning runs.
    let all = plan(&[build, "--strategy", "all"]);
    assert_eq!(all["stats"]["analyzed"], 0);
    assert_eq!(all["stats"]["analyses_from_cache"], 13);
    assert_eq!(all["stats"]["plan_from_cache"], false);
    assert_eq!(all["totals"]["by_rule"]["every_function"], 88);

    // Rewritten beams are planned from their originals: same keys, same plan.
    run_json("instrument", &[build]);
    let after = plan(&[build]);
    assert_eq!(after["stats"]["plan_from_cache"], true);
    let uncached = plan(&[build, "--no-cache"]);
    assert_eq!(uncached["stats"]["analyzed"], 13);
    assert_eq!(
        uncached["modules"], first["modules"],
        "the wrapped code is never analyzed"
    );

    // One changed beam: one analysis.
    let source = rewrite_support::fixture_source().join("src/fixture_erl.erl");
    let output = std::process::Command::new(executable("erlc", "erlang-nox"))
        .args(["+debug_info", "-DVARIANT", "-o"])
        .arg(fixture.ebin())
        .arg(source)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let changed = plan(&[build]);
    assert_eq!(changed["stats"]["analyzed"], 1);
    assert_eq!(changed["stats"]["analyses_from_cache"], 12);
}

#[test]
fn eex_is_planned_from_its_own_code() {
    let ebin = elixir_lib().join("eex/ebin");
    let ebin = ebin.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = elixir_scope_in(dir.path(), &["plan", ebin, "--json"]);
    assert!(ok, "{stderr}");
    let balanced: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        !dir.path().join(".elixir_scope").exists(),
        "no cache outside a project"
    );
    let modules: Vec<&str> = balanced["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["module"].as_str().unwrap())
        .collect();
    assert_eq!(
        modules,
        [
            "Elixir.EEx",
            "Elixir.EEx.Compiler",
            "Elixir.EEx.Engine",
            "Elixir.EEx.SmartEngine",
            "Elixir.EEx.SyntaxError"
        ]
    );
    for m in &modules {
        assert_eq!(module(&balanced, m)["app"], "eex");
        assert_eq!(module(&balanced, m)["status"], "planned");
    }
    // SmartEngine implements EEx.Engine, whose callbacks come from its own -callback attributes.
    let smart = decisions(&balanced, "Elixir.EEx.SmartEngine");
    for callback in ["init/1", "handle_body/1", "handle_text/3", "handle_expr/3"] {
        assert_eq!(smart[callback], d(true, "callback"), "{callback}");
    }
    assert_eq!(
        decision(&balanced, "Elixir.EEx", "compile_string/2"),
        d(true, "public")
    );
    assert_eq!(
        decision(&balanced, "Elixir.EEx", "MACRO-function_from_string/5"),
        d(false, "cannot_wrap")
    );
    let compiler = decisions(&balanced, "Elixir.EEx.Compiler");
    assert_eq!(compiler["compile/2"], d(true, "public"));
    assert_eq!(compiler["tokenize/6"], d(false, "private"));
    assert_side_effects_kept(&balanced);

    let callbacks = plan(&[ebin, "--strategy", "callbacks"]);
    assert_eq!(
        decision(&callbacks, "Elixir.EEx.Compiler", "compile/2"),
        d(false, "no_behaviour")
    );
    assert_eq!(
        decision(&callbacks, "Elixir.EEx.SmartEngine", "handle_body/1"),
        d(true, "callback")
    );
    let all_public = plan(&[ebin, "--strategy", "all_public"]);
    assert_eq!(
        decision(&all_public, "Elixir.EEx.Compiler", "tokenize/6"),
        d(false, "private")
    );
    let all = plan(&[ebin, "--strategy", "all"]);
    assert_eq!(
        decision(&all, "Elixir.EEx.Compiler", "tokenize/6"),
        d(true, "every_function")
    );
}

/// Runs `elixir-scope` in `dir`.
fn elixir_scope_in(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(support::elixir_scope_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn applications_of_a_mix_build_project_or_dependency() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for app in ["shop", "money", "luhn"] {
        copy_sources(&examples.join(app), &dir.path().join(app));
    }
    let shop = dir.path().join("shop");
    // A plain build: the demo's project without its ElixirScope alias, which would instrument
    // the build with the demo's own elixir_scope.toml.
    std::fs::write(
        shop.join("mix.exs"),
        r#"defmodule Shop.MixProject do
  use Mix.Project

  def project do
    [app: :shop, version: "0.1.0", elixir: "~> 1.14", deps: [{:money, path: "../money"}, {:luhn, path: "../luhn"}]]
  end

  def application, do: [extra_applications: [:logger], mod: {Shop.Application, []}]
end
"#,
    )
    .unwrap();
    let output = std::process::Command::new(executable("mix", "elixir"))
        .arg("compile")
        .current_dir(&shop)
        .env("MIX_ENV", "dev")
        .output()
        .unwrap();
    assert!(output.status.success(), "mix compile: {output:?}");
    let build = shop.join("_build/dev");

    let found = discover::mix_build(&build).unwrap();
    let roles: Vec<(String, discover::AppRole)> = found
        .apps
        .iter()
        .map(|a| (a.name.clone(), a.role))
        .collect();
    use discover::AppRole::{Dependency, Project};
    assert_eq!(
        roles,
        [
            ("luhn".to_string(), Dependency),
            ("money".to_string(), Dependency),
            ("shop".to_string(), Project)
        ]
    );

    let build = build.to_str().unwrap();
    let own = plan(&[build]);
    assert_eq!(module(&own, "Elixir.Shop.Checkout")["status"], "planned");
    assert_eq!(module(&own, "Elixir.Shop.Checkout")["role"], "project");
    assert_eq!(module(&own, "Elixir.Money")["status"], "app_not_selected");
    assert_eq!(module(&own, "luhn")["role"], "dependency");
    assert_eq!(module(&own, "luhn")["status"], "app_not_selected");
    let some = plan(&[build, "--apps", "project,money"]);
    assert_eq!(module(&some, "Elixir.Money")["status"], "planned");
    assert_eq!(module(&some, "luhn")["status"], "app_not_selected");
    let deps = plan(&[build, "--apps", "deps"]);
    assert_eq!(module(&deps, "luhn")["status"], "planned");
    assert_eq!(
        module(&deps, "Elixir.Shop.Checkout")["status"],
        "app_not_selected"
    );
    // A dependency's ebin named directly is planned.
    let luhn_ebin = shop.join("_build/dev/lib/luhn/ebin");
    let direct = plan(&[luhn_ebin.to_str().unwrap()]);
    assert_eq!(module(&direct, "luhn")["status"], "planned");

    let report = run_json("instrument", &[build]);
    let luhn = rewrite_support::file_of(&report, "luhn");
    assert_eq!(luhn["outcome"], "skipped");
    assert_eq!(luhn["reason"], "application luhn not selected (plan.apps)");
}

#[test]
fn the_configuration_file_sets_the_plan_and_its_errors_name_key_and_line() {
    let fixture = Fixture::compiled();
    let build = fixture.build();
    let build = build.to_str().unwrap();
    let config = fixture.root().join("elixir_scope.toml");
    std::fs::write(
        &config,
        "[plan]\nstrategy = \"all_public\"\nexclude = [\"Fixture.Counter\"]\n\n\
         [[capture.rules]]\nfunctions = \"Fixture.Basics.greet\"\narguments = false\nmax_bytes = 256\n",
    )
    .unwrap();
    // Found from the working directory upwards.
    let cwd = fixture.root().join("lib");
    let (ok, stdout, stderr) = elixir_scope_in(&cwd, &["plan", build, "--json"]);
    assert!(ok, "{stderr}");
    let planned: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(planned["strategy"], "all_public");
    assert_eq!(planned["config"], config.to_str().unwrap());
    assert_eq!(
        decision(&planned, "Elixir.Fixture.Counter", "value/1"),
        d(false, "excluded_by_pattern")
    );
    assert_eq!(
        decision(&planned, "Elixir.Fixture.Basics", "add/2"),
        d(true, "public")
    );
    let greet = module(&planned, "Elixir.Fixture.Basics")["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"]["name"] == "greet" && f["function"]["arity"] == 2)
        .unwrap()
        .clone();
    assert_eq!(
        greet["capture"],
        serde_json::json!({"arguments": false, "caps": {"max_bytes": 256}})
    );
    // The command line wins over the file.
    let (ok, stdout, _) = elixir_scope_in(&cwd, &["plan", build, "--json", "--strategy", "all"]);
    assert!(ok);
    let overridden: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(overridden["strategy"], "all");

    std::fs::write(
        &config,
        "[plan]\nstrategy = \"all\"\n\n[runtime]\nring_size = 5\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = elixir_scope_in(&cwd, &["plan", build]);
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(stderr.contains("elixir_scope.toml:5:1"), "{stderr}");
    assert!(stderr.contains("runtime.ring_size"), "{stderr}");
    assert!(stderr.contains("unknown field"), "{stderr}");
    let (ok, _, stderr) = elixir_scope_in(&cwd, &["instrument", build]);
    assert!(!ok, "instrument refuses a bad file too");
    assert!(stderr.contains("runtime.ring_size"), "{stderr}");
}

#[test]
fn runtime_settings_render_as_erlang_terms_the_vm_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("elixir_scope.toml");
    std::fs::write(
        &path,
        "[runtime]\ndb_path = \"data/trace \\\"1\\\".redb\"\ndrop_policy = \"drop_oldest\"\n\
         ring_capacity = 4096\npaused = true\n\n[capture]\nmax_bytes = 512\n",
    )
    .unwrap();
    let config = config::Config::load(&path).unwrap();
    let map = config.runtime.to_erlang_map();
    let env = config.runtime.to_app_env();
    let out = support::eval_erlang(
        &format!(
            "M = {map}, E = maps:from_list({env}), M = E, \
             io:format(\"~s ~p ~p ~p ~p\", [maps:get(db_path, M), maps:get(drop_policy, M), \
             maps:get(ring_capacity, M), maps:get(paused, M), maps:get(max_bytes, M)]), halt()."
        ),
        &[],
    );
    let expected_path = dir.path().join("data/trace \"1\".redb");
    assert_eq!(
        out,
        format!("{} drop_oldest 4096 true 512", expected_path.display())
    );
}
