//! `elixir-scope attach --node NAME --cookie C [--limit N] [--rate N] TARGETS...` and
//! `elixir-scope detach --node NAME --cookie C`: record a running node without recompiling
//! it, through its own call tracing (the runtime's `elixir_scope_attach`).
//!
//! Both start a hidden Erlang node (`erl -hidden`, so the target's `nodes()` does not list it)
//! that connects to the target over Erlang distribution and calls it with `erpc`: no network
//! layer of our own. `attach` first makes sure the runtime is on the target's code path: unless
//! the target runs the runtime already (instrumented code started it) and can load
//! `elixir_scope_attach`, the directory of the runtime bundle (the bundle installed into a
//! cache directory, or `--runtime DIR`) goes first on its code path, and the runtime loads its
//! NIF from there. A node that does not see that directory (it reads other bytes there: another
//! machine), or any node with `--copy-runtime`, gets the runtime's files copied over
//! distribution into its own user cache directory (`filename:basedir(user_cache,
//! "elixir-scope")`, each file written aside and renamed), and that goes on its code path. It
//! stays there after `detach` (the runtime keeps running, idle: a NIF cannot be unloaded). The copy must suit the node's machine: the NIF is
//! built for this one (Linux, this architecture), the beams by this machine's `erlc`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use toolchain::Tool;

use crate::bundle;

/// How to reach the target node.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The node to attach to: `name@host`, or `name` for a node of this host started with
    /// `-sname`.
    #[arg(long, value_name = "NAME")]
    pub node: String,
    /// The target node's cookie.
    #[arg(long, value_name = "COOKIE")]
    pub cookie: String,
}

/// Arguments of `attach`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node and its cookie.
    #[command(flatten)]
    pub target: Target,
    /// What to record: a module (`shop_cart`, `Shop.Cart`), a function (`shop_cart:total/1`,
    /// `Shop.Cart.total/1`) or all arities of one (`shop_cart:total`).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// An application whose modules to record (repeatable).
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,
    /// Stop after this many calls.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub limit: u64,
    /// Stop when more than this many calls come in one second.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub rate: u64,
    /// Trace local calls too (by default only remote calls of exported functions, as
    /// `dbg:tp/2`).
    #[arg(long)]
    pub local: bool,
    /// Where the target records (its `db_path`), if attach starts its runtime.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// A directory holding the runtime (an `ebin` where `elixir-scope instrument` installed
    /// it); by default the runtime bundled in this binary, installed into a cache directory.
    #[arg(long, value_name = "DIR")]
    pub runtime: Option<PathBuf>,
    /// Copy the runtime to the node (into its user cache directory) over distribution, even if
    /// it can read this machine's copy; a node that cannot (another machine) gets a copy anyway.
    #[arg(long)]
    pub copy_runtime: bool,
}

/// Arguments of `detach`.
#[derive(Debug, clap::Args)]
pub struct DetachArgs {
    /// The node and its cookie.
    #[command(flatten)]
    pub target: Target,
}

/// What can go wrong before the target is reached.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// A target that names no module or function.
    #[error(
        "not a target: {0:?} (expected a module such as `shop_cart` or `Shop.Cart`, or a \
         function such as `shop_cart:total/1`, `shop_cart:total` or `Shop.Cart.total/1`)"
    )]
    BadTarget(String),
    /// Nothing to attach to.
    #[error("name at least one TARGET or --app")]
    NoTargets,
    /// A limit of zero.
    #[error("--{0} must be at least 1")]
    ZeroLimit(&'static str),
    /// A node name that cannot be one.
    #[error("not a node name: {0:?} (expected name@host, or name for a node of this host)")]
    BadNode(String),
    /// The runtime directory given does not hold the runtime.
    #[error(
        "{0}: no elixir_scope_attach.beam there (pass the ebin where the runtime is installed)"
    )]
    NoRuntime(PathBuf),
    /// No cache directory to install the runtime into.
    #[error("no cache directory for the runtime ($XDG_CACHE_HOME and $HOME are unset): pass --runtime DIR")]
    NoCacheDir,
    /// Installing the bundled runtime failed.
    #[error("installing the runtime into {dir}: {source}")]
    Install {
        /// Where.
        dir: PathBuf,
        /// Why.
        #[source]
        source: bundle::InstallError,
    },
    /// The directory could not be made.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// `erl` could not be run.
    #[error(transparent)]
    Toolchain(#[from] toolchain::ToolchainError),
}

/// Attaches to the node; prints what was attached and the limits. Exit status 1 when the
/// target refused or could not be reached, 2 for bad arguments.
pub fn run(args: &Args) -> ExitCode {
    match attach_script(args) {
        Ok(script) => run_hidden_node(&args.target, &script),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Detaches from the node; prints how many calls were recorded and why tracing stopped.
pub fn run_detach(args: &DetachArgs) -> ExitCode {
    let script = format!(
        "{CONNECT}\
         case erpc:call(Target, elixir_scope_attach, detach, [], 60000) of \
           {{ok, #{{reason := tracer_gone, patterns_removed := Removed}}}} -> \
             io:format(\"the tracer on ~s was gone (killed?): removed the ~p trace patterns it \
                        left~n\", [Target, Removed]), \
             halt(0); \
           {{ok, Info}} -> \
             io:format(\"detached from ~s: ~p calls recorded (~p), run ~p; its trace flags and \
                        patterns are removed~n\", [Target, maps:get(calls, Info), \
                        maps:get(reason, Info), maps:get(run, Info)]), \
             case maps:get(left_open, Info, 0) of \
               0 -> ok; \
               Open -> io:format(\"~p calls were still running: they stay open in the \
                                  recording~n\", [Open]) \
             end, \
             halt(0); \
           {{error, Why}} -> \
             io:format(standard_error, \"error: ~s: ~s~n\", \
                       [Target, erpc:call(Target, elixir_scope_attach, format_error, [Why])]), \
             halt(1) \
         end.",
    );
    match check_node(&args.target.node) {
        Ok(()) => run_hidden_node(&args.target, &script),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Connects to `Target` (bound from `TargetName`, completed with this host when it has no
/// `@`), or halts with status 1 saying why.
pub(crate) const CONNECT: &str = "\
    Target = case lists:member($@, TargetName) of \
               true -> list_to_atom(TargetName); \
               false -> [_, Host] = string:split(atom_to_list(node()), \"@\"), \
                        list_to_atom(TargetName ++ \"@\" ++ Host) \
             end, \
    case net_kernel:connect_node(Target) of \
      true -> ok; \
      _ -> io:format(standard_error, \"error: cannot connect to ~s: is it running, with this \
                                     cookie, and is epmd running?~n\", [Target]), \
           halt(1) \
    end, ";

fn attach_script(args: &Args) -> Result<String, AttachError> {
    check_node(&args.target.node)?;
    if args.limit == 0 {
        return Err(AttachError::ZeroLimit("limit"));
    }
    if args.rate == 0 {
        return Err(AttachError::ZeroLimit("rate"));
    }
    let mut targets = args
        .targets
        .iter()
        .map(|t| parse_target(t))
        .collect::<Result<Vec<_>, _>>()?;
    targets.extend(
        args.apps
            .iter()
            .map(|app| format!("{{application, {}}}", atom(app))),
    );
    if targets.is_empty() {
        return Err(AttachError::NoTargets);
    }
    let runtime = runtime_dir(args.runtime.as_deref())?;
    let settings = match &args.db {
        Some(db) => {
            let db = std::path::absolute(db).map_err(|source| AttachError::Io {
                path: db.clone(),
                source,
            })?;
            format!(
                "#{{db_path => unicode:characters_to_binary({})}}",
                bundle::erlang_chars(&db)
            )
        }
        None => "#{}".to_string(),
    };
    Ok(format!(
        "{CONNECT}\
         Dir = {dir}, \
         Running = erpc:call(Target, erlang, module_loaded, [elixir_scope_runtime]), \
         Found = erpc:call(Target, code, which, [elixir_scope_attach]), \
         case Running andalso Found =/= non_existing of \
           true -> ok; \
           false -> \
             Probe = filename:join(Dir, \"elixir_scope_attach.beam\"), \
             {{ok, Mine}} = file:read_file(Probe), \
             Sees = (not {copy}) andalso erpc:call(Target, file, read_file, [Probe]) =:= {{ok, Mine}}, \
             OnTarget = case Sees of \
               true -> Dir; \
               false -> \
                 To = filename:join(erpc:call(Target, filename, basedir, \
                                              [user_cache, \"elixir-scope\"]), \
                                    filename:basename(Dir)), \
                 ok = erpc:call(Target, filelib, ensure_dir, [filename:join(To, \"x\")]), \
                 Files = filelib:wildcard(\"{{elixir_scope_*.beam,Elixir.ElixirScope*.beam,\
                                              libelixir_scope_nif.so,elixir_scope_runtime.config}}\", Dir), \
                 [begin \
                    {{ok, Bytes}} = file:read_file(filename:join(Dir, F)), \
                    Part = filename:join(To, \".\" ++ F ++ \".part\"), \
                    ok = erpc:call(Target, file, write_file, [Part, Bytes]), \
                    ok = erpc:call(Target, file, rename, [Part, filename:join(To, F)]) \
                  end || F <- Files], \
                 io:format(\"copied the runtime (~p files) to ~s on ~s~n\", [length(Files), To, Target]), \
                 To \
             end, \
             true = erpc:call(Target, code, add_patha, [OnTarget]) \
         end, \
         Opts = #{{rate => {rate}, limit => {limit}, local => {local}, settings => {settings}}}, \
         case erpc:call(Target, elixir_scope_attach, attach, [[{targets}], Opts], 60000) of \
           {{ok, Info}} -> \
             #{{functions := Fs, modules := Ms, processes := Ps, skipped_processes := SPs, \
                skipped_functions := SFs, rate := R, limit := L, run := Run}} = Info, \
             io:format(\"attached to ~s: ~p functions of ~0tp in ~p processes, recording into \
                        run ~p~nlimits: ~p calls per second, ~p calls in all (tracing stops \
                        at either; `elixir-scope detach` stops it before)~n\", \
                       [Target, Fs, Ms, Ps, Run, R, L]), \
             SPs > 0 andalso io:format(\"left alone: ~p processes traced by another tracer~n\", \
                                       [SPs]), \
             SFs =/= [] andalso io:format(\"left alone (traced already): ~0tp~n\", [SFs]), \
             halt(0); \
           {{error, Why}} -> \
             io:format(standard_error, \"error: ~s: ~s~n\", \
                       [Target, erpc:call(Target, elixir_scope_attach, format_error, [Why])]), \
             halt(1) \
         end.",
        dir = bundle::erlang_chars(&runtime),
        copy = args.copy_runtime,
        rate = args.rate,
        limit = args.limit,
        local = args.local,
        targets = targets.join(", "),
    ))
}

/// Runs `script` in a hidden node whose variable `TargetName` names the target; its exit
/// status is the command's.
fn run_hidden_node(target: &Target, script: &str) -> ExitCode {
    match hidden_node(target, script, None).status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            let error = AttachError::from(toolchain::not_started(Tool::Erl, e));
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The command that runs `script` in a hidden node (`erl -hidden`, named after this OS
/// process, `-sname` or `-name` as the target's name is short or long) whose variable
/// `TargetName` names the target, with `code_path` first on its code path when given. Start
/// `script` with [`CONNECT`] to bind `Target`. Whatever fails unexpectedly is said in one line
/// on standard error, exit status 1. Also what `--cluster` queries run (`query::cluster`).
pub(crate) fn hidden_node(target: &Target, script: &str, code_path: Option<&Path>) -> Command {
    let long = target
        .node
        .split_once('@')
        .is_some_and(|(_, host)| host.contains('.'));
    let me = format!("elixir_scope_cli_{}", std::process::id());
    let (name_flag, name) = if long {
        let host = target.node.split_once('@').map_or("", |(_, h)| h);
        ("-name", format!("{me}@{host}"))
    } else {
        ("-sname", me)
    };
    // Whatever fails unexpectedly (the node goes away mid-way, a file cannot be written
    // there) is said in one line; no erl_crash.dump is left in the user's directory.
    let script = format!(
        "TargetName = {}, \
         try {} \
         catch Class:Reason -> \
           io:format(standard_error, \"error: ~s: ~0tp~n\", [TargetName, {{Class, Reason}}]), \
           halt(1) \
         end.",
        bundle::erlang_chars(Path::new(&target.node)),
        script.trim_end().trim_end_matches('.')
    );
    // `erl` as found on PATH; a missing one is said when the command runs.
    let erl = toolchain::find(Tool::Erl).unwrap_or_else(|_| Tool::Erl.program().into());
    let mut command = Command::new(erl);
    command
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .args(["-hidden", "-noshell", name_flag, &name, "-setcookie"])
        .arg(&target.cookie);
    if let Some(dir) = code_path {
        command.arg("-pa").arg(dir);
    }
    command.args(["-eval", &script]);
    command
}

/// Checks that `node` can be a node's name (`name@host`, or `name`).
pub(crate) fn check_node(node: &str) -> Result<(), AttachError> {
    let (name, host) = node.split_once('@').unwrap_or((node, "x"));
    let ok_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let ok_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok_name && ok_host {
        Ok(())
    } else {
        Err(AttachError::BadNode(node.to_string()))
    }
}

/// The runtime's directory: `--runtime DIR`, or the bundle installed into
/// `$XDG_CACHE_HOME/elixir-scope/runtime-ID` (else `~/.cache/...`), once per bundle.
pub(crate) fn runtime_dir(given: Option<&Path>) -> Result<PathBuf, AttachError> {
    let dir = match given {
        Some(dir) => {
            if !dir.join("elixir_scope_attach.beam").is_file() {
                return Err(AttachError::NoRuntime(dir.to_path_buf()));
            }
            dir.to_path_buf()
        }
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .ok_or(AttachError::NoCacheDir)?;
            let dir = cache
                .join("elixir-scope")
                .join(format!("runtime-{}", bundle::bundle_id()));
            std::fs::create_dir_all(&dir).map_err(|source| AttachError::Io {
                path: dir.clone(),
                source,
            })?;
            bundle::install(&dir, "[]").map_err(|source| AttachError::Install {
                dir: dir.clone(),
                source,
            })?;
            dir
        }
    };
    std::path::absolute(&dir).map_err(|source| AttachError::Io { path: dir, source })
}

/// A target as an Erlang term: `mod`, `Elixir.Mod` for `Mod.Sub`, `{mod, fun, Arity | '_'}`
/// for `mod:fun/N`, `mod:fun`, `Mod.Sub.fun/N`.
fn parse_target(text: &str) -> Result<String, AttachError> {
    let bad = || AttachError::BadTarget(text.to_string());
    let (function_part, arity) = match text.rsplit_once('/') {
        Some((f, n)) => (f, Some(n.parse::<u8>().map_err(|_| bad())?)),
        None => (text, None),
    };
    let arity_text = arity.map_or("'_'".to_string(), |n| n.to_string());
    if let Some((module, function)) = function_part.split_once(':') {
        // Erlang: mod:fun[/N]
        if module.is_empty() || function.is_empty() || function.contains(':') {
            return Err(bad());
        }
        return Ok(format!(
            "{{{}, {}, {arity_text}}}",
            module_atom(module),
            atom(function)
        ));
    }
    let starts_upper = function_part.starts_with(|c: char| c.is_ascii_uppercase());
    if starts_upper {
        // Elixir: Mod.Sub or Mod.Sub.fun[/N]
        let (module, last) = function_part
            .rsplit_once('.')
            .unwrap_or(("", function_part));
        if last.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') && !module.is_empty() {
            return Ok(format!(
                "{{{}, {}, {arity_text}}}",
                module_atom(module),
                atom(last)
            ));
        }
        if arity.is_some() {
            return Err(bad());
        }
        return Ok(module_atom(function_part));
    }
    if arity.is_some() || function_part.is_empty() {
        return Err(bad());
    }
    Ok(module_atom(function_part))
}

/// A module's atom: Elixir aliases (`Shop.Cart`) get their `Elixir.` prefix.
fn module_atom(name: &str) -> String {
    if name.starts_with(|c: char| c.is_ascii_uppercase()) && !name.starts_with("Elixir.") {
        atom(&format!("Elixir.{name}"))
    } else {
        atom(name)
    }
}

/// An Erlang atom literal (quoted, escaped; as a list of codes through `list_to_atom` so
/// that any text reads back exactly).
fn atom(name: &str) -> String {
    format!("list_to_atom({})", bundle::erlang_chars(Path::new(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script text with each `list_to_atom([Codes])` shown as its text.
    fn text(script: &str) -> String {
        let mut out = String::new();
        let mut rest = script;
        while let Some(at) = rest.find("list_to_atom([") {
            out.push_str(&rest[..at]);
            let after = &rest[at + "list_to_atom([".len()..];
            let end = after.find("])").expect("a closed list");
            out.extend(
                after[..end]
                    .split(',')
                    .filter_map(|n| n.parse::<u32>().ok().and_then(char::from_u32)),
            );
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn targets_read_as_erlang_terms() {
        assert_eq!(text(&parse_target("shop").unwrap()), "shop");
        assert_eq!(
            text(&parse_target("Shop.Cart").unwrap()),
            "Elixir.Shop.Cart"
        );
        assert_eq!(
            text(&parse_target("shop:total/1").unwrap()),
            "{shop, total, 1}"
        );
        assert_eq!(
            text(&parse_target("shop:total").unwrap()),
            "{shop, total, '_'}"
        );
        assert_eq!(
            text(&parse_target("Shop.Cart.total/2").unwrap()),
            "{Elixir.Shop.Cart, total, 2}"
        );
    }

    #[test]
    fn bad_targets_and_nodes_are_refused() {
        for bad in ["", "shop/1", "shop:", ":f", "Shop.Cart/1", "m:f/x", "m:f:g"] {
            assert!(parse_target(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check_node("target@localhost").is_ok());
        assert!(check_node("target").is_ok());
        assert!(check_node("t a@h").is_err());
        assert!(check_node("@h").is_err());
    }
}
