//! The runtime bundle: what recorded code needs at run time, carried inside `elixir-scope`.
//!
//! - `libelixir_scope_nif.so`, the NIF (built by `bundle/build.rs` from `runtime_nif/`);
//! - the Erlang modules (from `runtime_nif/erlang/`, every one of them: a test checks): the
//!   runtime contract `elixir_scope_contract` (a behaviour) and its implementation
//!   `elixir_scope_runtime`, which wrapped code calls, with `elixir_scope_control` (start,
//!   pause, settings), `elixir_scope_query` (queries) and `elixir_scope_reload` (loading
//!   rewritten beams); `elixir_scope_nif`, `elixir_scope_stacktrace` and the default gate
//!   `elixir_scope_gate` (which wrapped code asks before the runtime runs); the attach tracer
//!   `elixir_scope_attach`, the cluster queries `elixir_scope_cluster`, and the test hooks
//!   `elixir_scope_cth` (Common Test) and `elixir_scope_eunit` (EUnit); compiled on install
//!   with the user's own `erlc`, so that they match the user's OTP release;
//! - the IEx helpers, the Elixir module `ElixirScope` (from `runtime_nif/elixir/`), compiled
//!   with the user's own `elixirc`: for Elixir projects (a directory holding `Elixir.*` beams,
//!   or no beams yet while Elixir is installed); a pure-Erlang directory goes without them,
//!   and [`Installed::Fresh`] lists what was installed, so callers can say so.
//!
//! [`install`] puts them into a directory on the code path (an `ebin`), with the runtime's
//! settings (`elixir_scope_runtime.config`). It is idempotent (a stamp file records which bundle
//! is installed) and never leaves half an install: everything is built in a temporary directory
//! next to the target and moved in file by file, the stamp last.

use std::path::{Path, PathBuf};

use discover::BuildApp;
use toolchain::Tool;

/// The NIF library's file name; `elixir_scope_runtime` looks for it next to its own beam.
pub const NIF_FILE: &str = "libelixir_scope_nif.so";

/// The stamp file that says which bundle a directory holds.
pub const STAMP_FILE: &str = "elixir_scope_runtime.bundle";

/// The NIF library, as built for this binary.
pub const NIF_LIBRARY: &[u8] = include_bytes!(env!("ELIXIR_SCOPE_NIF_LIBRARY"));

/// The Erlang sources of the runtime: (file name, source). The behaviour comes first: `erlc`
/// checks the modules that implement it against its beam.
pub const ERLANG_SOURCES: &[(&str, &str)] = &[
    (
        "elixir_scope_contract.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_contract.erl"),
    ),
    (
        "elixir_scope_runtime.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_runtime.erl"),
    ),
    (
        "elixir_scope_control.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_control.erl"),
    ),
    (
        "elixir_scope_query.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_query.erl"),
    ),
    (
        "elixir_scope_reload.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_reload.erl"),
    ),
    (
        "elixir_scope_nif.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_nif.erl"),
    ),
    (
        "elixir_scope_stacktrace.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_stacktrace.erl"),
    ),
    (
        "elixir_scope_gate.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_gate.erl"),
    ),
    (
        "elixir_scope_attach.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_attach.erl"),
    ),
    (
        "elixir_scope_cluster.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_cluster.erl"),
    ),
    (
        "elixir_scope_cth.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_cth.erl"),
    ),
    (
        "elixir_scope_eunit.erl",
        include_str!("../../runtime_nif/erlang/elixir_scope_eunit.erl"),
    ),
];

/// The Elixir sources of the IEx helpers, of the Mix task `elixir_scope.reload` (which loads
/// rewritten beams into a VM that compiled the originals) and of the ExUnit formatter that
/// tells the recording which test made which calls: (file name, source).
pub const ELIXIR_SOURCES: &[(&str, &str)] = &[
    (
        "elixir_scope.ex",
        include_str!("../../runtime_nif/elixir/elixir_scope.ex"),
    ),
    (
        "elixir_scope_format.ex",
        include_str!("../../runtime_nif/elixir/elixir_scope/format.ex"),
    ),
    (
        "elixir_scope_query.ex",
        include_str!("../../runtime_nif/elixir/elixir_scope/query.ex"),
    ),
    (
        "elixir_scope_reload_task.ex",
        include_str!("../../runtime_nif/elixir/mix/tasks/elixir_scope.reload.ex"),
    ),
    (
        "elixir_scope_ex_unit_formatter.ex",
        include_str!("../../runtime_nif/elixir/elixir_scope/ex_unit_formatter.ex"),
    ),
];

/// The beam of the IEx helpers' main module; [`Installed::Fresh`] lists it when they were
/// installed.
pub const ELIXIR_MODULE_BEAM: &str = "Elixir.ElixirScope.beam";

/// A failed install; the target directory is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The target directory does not exist or is not a directory.
    #[error("{0}: not a directory to install the ElixirScope runtime into")]
    NotADirectory(PathBuf),
    /// A file could not be written or moved.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A program of the toolchain (`erl`, `erlc`, `elixirc`) is missing or could not run.
    #[error(transparent)]
    Toolchain(#[from] toolchain::ToolchainError),
    /// `erlc` rejected the runtime's sources.
    #[error("erlc could not compile the ElixirScope runtime:\n{0}")]
    Compile(String),
    /// `elixirc` rejected the IEx helpers.
    #[error("elixirc could not compile the IEx helpers (ElixirScope):\n{0}")]
    CompileElixir(String),
    /// A `.app` file's `modules` could not be rewritten with (or without) the runtime's.
    #[error("{path}: could not rewrite the modules it lists:\n{output}")]
    App {
        /// The `.app` file (left as it was).
        path: PathBuf,
        /// What `erl` said.
        output: String,
    },
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// The directory already held this bundle.
    AlreadyCurrent,
    /// The bundle was installed (files written, in the directory).
    Fresh(Vec<String>),
}

/// Where the runtime goes for beams instrumented under `paths`: a directory on the code path
/// of whatever runs them.
///
/// - In a Mix build directory (`_build/dev`, one of its apps, a beam in it): the `ebin` of the
///   project's application that every other one needs ([`base_of`]: the application itself
///   for a project of one, the shared child of an umbrella), else of each of them; Mix puts
///   them on the code path (an application's `priv` may be a symlink into the user's source
///   tree, so never there).
/// - A `.beam` file: its directory. An application directory: its `ebin`. A directory of
///   beams: itself.
///
/// Errors say which path has no obvious place, so that the user can pass `--runtime-dir`.
pub fn targets_for(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    places_for(paths, Placement::Install)
}

/// Every directory `instrument` may have installed the runtime into for `paths`: as
/// [`targets_for`], but each project application's `ebin` of a Mix build (where the runtime
/// went before an umbrella's went to its shared child only). `restore` looks there, and
/// `instrument` takes the runtime out of those that are no longer targets.
pub fn homes_for(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    places_for(paths, Placement::AnyHome)
}

/// Which directories [`places_for`] gives for a Mix build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Where the runtime goes now.
    Install,
    /// Wherever it may be.
    AnyHome,
}

fn places_for(paths: &[PathBuf], placement: Placement) -> Result<Vec<PathBuf>, String> {
    let mut targets = Vec::new();
    for path in paths {
        targets.extend(target_for(path, placement)?);
    }
    targets.sort();
    targets.dedup();
    Ok(targets)
}

fn target_for(path: &Path, placement: Placement) -> Result<Vec<PathBuf>, String> {
    use discover::{build_dir_of, mix_build};
    if let Some(build) = build_dir_of(path) {
        let build = mix_build(&build).map_err(|e| e.to_string())?;
        let apps: Vec<&BuildApp> = build.project_apps().collect();
        if apps.is_empty() {
            return Err(format!(
                "{}: cannot tell the project's own application among {}; pass --runtime-dir",
                build.dir.display(),
                build
                    .apps
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let base = base_of(&apps).filter(|_| placement == Placement::Install);
        return Ok(match base {
            Some(base) => vec![base.ebin.clone()],
            None => apps.iter().map(|app| app.ebin.clone()).collect(),
        });
    }
    if path.is_file() {
        return Ok(path.parent().map(Path::to_path_buf).into_iter().collect());
    }
    if path.join("ebin").is_dir() {
        return Ok(vec![path.join("ebin")]);
    }
    let holds_beams = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "beam"))
        })
        .unwrap_or(false);
    if holds_beams {
        return Ok(vec![path.to_path_buf()]);
    }
    Err(format!(
        "{}: no single ebin to install the runtime into; pass --runtime-dir",
        path.display()
    ))
}

/// The project application every other one needs, directly or not (the application itself
/// for a project of one; for an umbrella, the child every other child depends on), the one
/// with the fewest needs of its own when several are; `None` when no application is needed
/// by all (independent umbrella children: the runtime then goes into each).
///
/// Why one: a release refuses a module that two of its applications list (Mix lists every
/// beam of an `ebin` in its `.app`), and the runtime in the shared child is on the code path
/// wherever any child runs, since its dependencies are.
fn base_of<'a>(apps: &[&'a BuildApp]) -> Option<&'a BuildApp> {
    let by_name: std::collections::HashMap<&str, &BuildApp> =
        apps.iter().map(|app| (app.name.as_str(), *app)).collect();
    // An application and the project applications it needs, directly or not.
    let closure = |app: &'a BuildApp| {
        let mut seen = std::collections::BTreeSet::from([app.name.as_str()]);
        let mut todo = vec![app];
        while let Some(next) = todo.pop() {
            for need in &next.needs {
                if let Some(needed) = by_name.get(need.as_str()) {
                    if seen.insert(needed.name.as_str()) {
                        todo.push(needed);
                    }
                }
            }
        }
        seen
    };
    let closures: Vec<_> = apps.iter().map(|app| closure(app)).collect();
    apps.iter()
        .zip(&closures)
        .filter(|(app, _)| closures.iter().all(|c| c.contains(app.name.as_str())))
        .min_by_key(|(app, own)| (own.len(), app.name.as_str()))
        .map(|(app, _)| *app)
}

/// Options the runtime's Erlang modules are compiled with. With debug info, they look like any
/// other module of the `ebin` they are installed into to tools that read every beam there
/// (PropEr's tests read the abstract code of every `ebin/*.beam`; Dialyzer, xref).
pub const ERLC_OPTIONS: &[&str] = &["+debug_info"];

/// What every beam of the bundle gets after compiling: its debug info becomes Erlang abstract
/// code without `-file` attributes (Elixir's too, through `elixir_erl`).
///
/// Why: `mix test --cover` (and any `cover:compile_beam/1` over an `ebin`) cover-compiles every
/// beam of the project's `ebin`, so the runtime counted towards the project's coverage, ran
/// cover-compiled, and Mix's HTML report raised on the IEx helpers, whose source it cannot
/// find. Cover refuses a module whose abstract code names no file (`{error,
/// {no_file_attribute, Beam}}`), which Mix passes over; Dialyzer, xref and PropEr read such
/// debug info as before. Loaded code, stack traces and `module_info` are unchanged.
const DEBUG_INFO_WITHOUT_FILE: &str = "\
    Strip = fun(File) -> \
        {ok, {M, [{debug_info, Dbgi}]}} = beam_lib:chunks(File, [debug_info]), \
        {Forms, Opts} = case Dbgi of \
            {debug_info_v1, erl_abstract_code, {F, O}} -> {F, O}; \
            _ -> \
                {ok, {M, [{abstract_code, {raw_abstract_v1, F}}]}} = \
                    beam_lib:chunks(File, [abstract_code]), \
                {F, []} \
        end, \
        Kept = [Form || Form <- Forms, \
                        not (element(1, Form) =:= attribute andalso element(3, Form) =:= file)], \
        {ok, M, Chunks} = beam_lib:all_chunks(File), \
        New = term_to_binary({debug_info_v1, erl_abstract_code, {Kept, Opts}}), \
        {ok, Beam} = beam_lib:build_module(lists:keyreplace(\"Dbgi\", 1, Chunks, {\"Dbgi\", New})), \
        ok = file:write_file(File, Beam) \
    end, \
    lists:foreach(Strip, filelib:wildcard(filename:join(Dir, \"*.beam\"))), \
    halt().";

/// The id of this bundle: a hash of everything in it.
pub fn bundle_id() -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(NIF_LIBRARY);
    for option in ERLC_OPTIONS {
        hasher.update(option.as_bytes());
    }
    hasher.update(DEBUG_INFO_WITHOUT_FILE.as_bytes());
    for (name, source) in ERLANG_SOURCES.iter().chain(ELIXIR_SOURCES) {
        hasher.update(name.as_bytes());
        hasher.update(source.as_bytes());
    }
    hasher.finalize().to_hex()[..32].to_string()
}

/// The file next to the runtime's beams that holds its settings (read by
/// `elixir_scope_runtime` at start): one Erlang term, a `{Key, Value}` list.
pub const SETTINGS_FILE: &str = "elixir_scope_runtime.config";

/// Installs the runtime into `dir` (an `ebin` on the code path), unless it is already there,
/// and writes its settings: `settings` is the Erlang text of a `{Key, Value}` list (from
/// `elixir_scope.toml`; `[]` for none).
pub fn install(dir: &Path, settings: &str) -> Result<Installed, InstallError> {
    if !dir.is_dir() {
        return Err(InstallError::NotADirectory(dir.to_path_buf()));
    }
    write_settings(dir, settings)?;
    let elixir = wants_elixir(dir);
    let id = format!(
        "{}{}",
        bundle_id(),
        if elixir { "" } else { " erlang-only" }
    );
    let stamp = dir.join(STAMP_FILE);
    if let Ok(text) = std::fs::read_to_string(&stamp) {
        let mut lines = text.lines();
        let files: Vec<&str> = lines.clone().skip(1).collect();
        if lines.next() == Some(id.as_str()) && files.iter().all(|file| dir.join(file).is_file()) {
            list_in_app(dir, &files)?;
            return Ok(Installed::AlreadyCurrent);
        }
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    let staging = tempfile::Builder::new()
        .prefix(".elixir_scope_install-")
        .tempdir_in(dir)
        .map_err(io(dir))?;
    let built = staging.path();
    let src = built.join("src");
    std::fs::create_dir(&src).map_err(io(&src))?;
    for (name, source) in ERLANG_SOURCES {
        std::fs::write(src.join(name), source).map_err(io(&src.join(name)))?;
    }
    compile_erlang(&src, built)?;
    std::fs::write(built.join(NIF_FILE), NIF_LIBRARY).map_err(io(&built.join(NIF_FILE)))?;

    let mut files = vec![NIF_FILE.to_string()];
    files.extend(beam_names());
    if elixir {
        files.extend(compile_elixir(&src, built)?);
    }
    strip_file_attributes(built)?;
    for file in &files {
        let to = dir.join(file);
        std::fs::rename(built.join(file), &to).map_err(io(&to))?;
    }
    let mut text = format!("{id}\n");
    for file in &files {
        text.push_str(file);
        text.push('\n');
    }
    std::fs::write(&stamp, text).map_err(io(&stamp))?;
    list_in_app(dir, &files)?;
    Ok(Installed::Fresh(files))
}

/// Lists the runtime's modules (the beams among `files`) in the `modules` of each `.app` of
/// `dir` that does not list them all yet.
///
/// Why: a release loads the modules its applications' `.app` files list (embedded mode), and a
/// fresh `MIX_ENV=prod mix release` writes the `.app` before the compile alias installs the
/// runtime: the release's first wrapped call raised `undef` for `elixir_scope_gate:on/1` and
/// the release did not boot. Mix itself lists every beam of the `ebin` when it next writes the
/// `.app`; [`uninstall`] takes them out again.
fn list_in_app(dir: &Path, files: &[impl AsRef<str>]) -> Result<(), InstallError> {
    let modules: Vec<String> = files
        .iter()
        .filter_map(|f| f.as_ref().strip_suffix(".beam"))
        .map(str::to_string)
        .collect();
    let unlisted = |app: &Path| {
        // The common case (every module listed, as after Mix wrote the `.app` again) is told
        // from the text, without starting `erl`: a module is listed as `'Elixir.X'` or as a
        // bare atom followed by `,` or `]`.
        let text = std::fs::read_to_string(app).unwrap_or_default();
        let listed = |m: &String| match m.starts_with("Elixir.") {
            true => text.contains(&format!("'{m}'")),
            false => text.contains(&format!("{m},")) || text.contains(&format!("{m}]")),
        };
        !modules.iter().all(listed)
    };
    let apps = app_files(dir)?;
    if !modules.is_empty() && apps.iter().any(|app| unlisted(app)) {
        relist_modules(dir, &modules, Listing::With)?;
    }
    Ok(())
}

/// The `.app` files of `dir`.
fn app_files(dir: &Path) -> Result<Vec<PathBuf>, InstallError> {
    let entries = std::fs::read_dir(dir).map_err(|source| InstallError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "app"))
        .collect())
}

/// What [`uninstall`] removed from a directory: the files, and whether the `.app` of the
/// directory's application listed the runtime's modules (it then lists them no more).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uninstalled {
    /// The files removed (the bundle's, its stamp, the settings).
    pub files: Vec<String>,
    /// The `.app` files rewritten without the runtime's modules.
    pub app_files: Vec<String>,
}

/// Removes the runtime from `dir`, so that it holds what the compiler left there: every file
/// the stamp lists, the stamp, the settings file, and the runtime's modules from the `modules`
/// of each `.app` file that lists them (Mix lists every beam of an `ebin` in the `.app` it
/// regenerates after the runtime was installed). A `.app` is rewritten as Mix writes it
/// (`io_lib:format("~p.~n", [Term])` by the user's own Erlang, atomically), so that the
/// directory is byte for byte what a fresh compile gives. A directory without the runtime is
/// left alone.
pub fn uninstall(dir: &Path) -> Result<Uninstalled, InstallError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    let stamp = dir.join(STAMP_FILE);
    let listed: Vec<String> = match std::fs::read_to_string(&stamp) {
        Ok(text) => text.lines().skip(1).map(str::to_string).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(&stamp)(e)),
    };
    let mut modules: Vec<String> = listed
        .iter()
        .filter_map(|f| f.strip_suffix(".beam"))
        .map(str::to_string)
        .collect();
    // Beams of the runtime a stamp may not list (an install interrupted before its stamp).
    for entry in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(module) = name.strip_suffix(".beam") {
            if is_runtime_module(module) && !modules.iter().any(|m| m == module) {
                modules.push(module.to_string());
            }
        }
    }
    let mut removed = Uninstalled::default();
    let beams = modules.iter().map(|m| format!("{m}.beam"));
    let files: Vec<String> = listed
        .iter()
        .cloned()
        .chain(beams)
        .chain([STAMP_FILE.to_string(), SETTINGS_FILE.to_string()])
        .collect();
    for file in files {
        let path = dir.join(&file);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                if !removed.files.contains(&file) {
                    removed.files.push(file)
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    if !modules.is_empty() {
        removed.app_files = relist_modules(dir, &modules, Listing::Without)?;
    }
    Ok(removed)
}

/// Whether a module (by its beam's name) is one of the runtime's.
pub fn is_runtime_module(module: &str) -> bool {
    module.starts_with("elixir_scope_")
        || module == "Elixir.ElixirScope"
        || module.starts_with("Elixir.ElixirScope.")
        || module.starts_with("Elixir.Mix.Tasks.ElixirScope.")
}

/// Whether [`relist_modules`] lists the runtime's modules or takes them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// Appended after the modules listed (the order of those kept).
    With,
    /// Removed (the order of the others kept).
    Without,
}

/// Rewrites the `modules` of each `.app` of `dir` with or without `modules`, where that
/// changes it; returns the names of the files rewritten.
fn relist_modules(
    dir: &Path,
    modules: &[String],
    listing: Listing,
) -> Result<Vec<String>, InstallError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    // `erl` runs in `/`: it is given absolute paths.
    let dir = &std::path::absolute(dir).map_err(io(dir))?;
    let new_list = match listing {
        Listing::With => "Listed ++ [M || M <- Ours, not lists:member(M, Listed)]",
        Listing::Without => "[M || M <- Listed, not lists:member(M, Ours)]",
    };
    let mut rewritten = Vec::new();
    for path in app_files(dir)? {
        // Written only when the list changes; `erl` says which.
        let temp = dir.join(format!(".elixir_scope_app-{}", std::process::id()));
        let ours: Vec<String> = modules.iter().map(|m| erlang_chars(Path::new(m))).collect();
        let script = format!(
            "{{ok, [{{application, App, Props}}]}} = file:consult({from}), \
             Ours = [list_to_atom(M) || M <- [{ours}]], \
             Listed = proplists:get_value(modules, Props, []), \
             case {new_list} of \
               Listed -> io:format(\"same\"); \
               Modules -> \
                 New = lists:keystore(modules, 1, Props, {{modules, Modules}}), \
                 Text = io_lib:format(<<\"~p.~n\">>, [{{application, App, New}}]), \
                 ok = file:write_file({to}, unicode:characters_to_binary(Text)), \
                 io:format(\"changed\") \
             end, \
             halt().",
            from = erlang_chars(&path),
            to = erlang_chars(&temp),
            ours = ours.join(","),
        );
        let output = toolchain::output(
            Tool::Erl,
            toolchain::command(Tool::Erl)?
                .current_dir("/")
                // A `.app` it cannot read is an error said here, not a crash dump left in `/`.
                .env("ERL_CRASH_DUMP_SECONDS", "0")
                .args(["-noshell", "-eval", &script]),
        )?;
        let said = String::from_utf8_lossy(&output.stdout);
        if output.status.success() && said == "same" {
            continue;
        }
        if !output.status.success() || said != "changed" || !temp.is_file() {
            let _ = std::fs::remove_file(&temp);
            return Err(InstallError::App {
                path: path.clone(),
                output: format!("{said}{}", String::from_utf8_lossy(&output.stderr)),
            });
        }
        std::fs::rename(&temp, &path).map_err(io(&path))?;
        rewritten.extend(path.file_name().map(|n| n.to_string_lossy().into_owned()));
    }
    Ok(rewritten)
}

/// A text as an Erlang string literal (a list of its characters' codes).
pub fn erlang_chars(text: &Path) -> String {
    let codes: Vec<String> = text
        .to_string_lossy()
        .chars()
        .map(|c| (c as u32).to_string())
        .collect();
    format!("[{}]", codes.join(","))
}

/// Writes the settings file if its content changes, atomically (temporary file + rename).
fn write_settings(dir: &Path, settings: &str) -> Result<(), InstallError> {
    let path = dir.join(SETTINGS_FILE);
    let text =
        format!("%% Written by elixir-scope instrument from elixir_scope.toml.\n{settings}.\n");
    if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let io = |source| InstallError::Io {
        path: path.clone(),
        source,
    };
    let mut file = tempfile::Builder::new()
        .prefix(".elixir_scope_settings-")
        .tempfile_in(dir)
        .map_err(io)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)?;
    file.persist(&path).map_err(|e| io(e.error))?;
    Ok(())
}

fn beam_names() -> impl Iterator<Item = String> {
    ERLANG_SOURCES
        .iter()
        .map(|(name, _)| name.replace(".erl", ".beam"))
}

/// Whether `dir` gets the IEx helpers: it holds Elixir beams (other than ours), or no beams
/// at all while `elixirc` is on PATH. A directory of Erlang beams only is a pure-Erlang
/// project.
fn wants_elixir(dir: &Path) -> bool {
    let mut beams = 0;
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.ends_with(".beam") || name.starts_with("elixir_scope_") {
            continue;
        }
        let ours = name.starts_with("Elixir.ElixirScope")
            || name.starts_with("Elixir.Mix.Tasks.ElixirScope.");
        if name.starts_with("Elixir.") && !ours {
            return true;
        }
        if !name.starts_with("Elixir.") {
            beams += 1;
        }
    }
    beams == 0 && toolchain::find(Tool::Elixirc).is_ok()
}

/// Compiles the IEx helpers into `out` (next to the runtime's beams, which it calls); returns
/// the beams written.
fn compile_elixir(src: &Path, out: &Path) -> Result<Vec<String>, InstallError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    for (name, source) in ELIXIR_SOURCES {
        std::fs::write(src.join(name), source).map_err(io(&src.join(name)))?;
    }
    // Compiled from inside `src` with plain file names, so that stack traces name
    // `elixir_scope.ex`, not the temporary directory.
    let out = std::path::absolute(out).map_err(io(out))?;
    let mut elixirc = toolchain::command(Tool::Elixirc)?;
    elixirc
        .current_dir(src)
        .arg("-o")
        .arg(&out)
        .arg("-pa")
        .arg(&out);
    for (name, _) in ELIXIR_SOURCES {
        elixirc.arg(name);
    }
    let output = toolchain::output(Tool::Elixirc, &mut elixirc)?;
    if !output.status.success() {
        return Err(InstallError::CompileElixir(toolchain::printed(&output)));
    }
    let mut beams: Vec<String> = std::fs::read_dir(&out)
        .map_err(io(&out))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("Elixir.") && name.ends_with(".beam"))
        .collect();
    beams.sort();
    Ok(beams)
}

/// Rewrites the debug info of every beam in `dir` (see [`DEBUG_INFO_WITHOUT_FILE`]).
fn strip_file_attributes(dir: &Path) -> Result<(), InstallError> {
    let dir = std::path::absolute(dir).map_err(|source| InstallError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let script = format!("Dir = {}, {DEBUG_INFO_WITHOUT_FILE}", erlang_chars(&dir));
    let mut erl = toolchain::command(Tool::Erl)?;
    erl.current_dir("/").arg("-noshell");
    // Elixir's debug info is expanded by its own backend, `elixir_erl`.
    if let Some(ebin) = toolchain::elixir_ebin() {
        erl.arg("-pa").arg(ebin);
    }
    let output = toolchain::output(Tool::Erl, erl.args(["-eval", &script]))?;
    if !output.status.success() {
        return Err(InstallError::Compile(format!(
            "rewriting the debug info: {}",
            toolchain::printed(&output)
        )));
    }
    Ok(())
}

fn compile_erlang(src: &Path, out: &Path) -> Result<(), InstallError> {
    // From inside `src` with plain file names, so that stack traces name
    // `elixir_scope_runtime.erl`, not the temporary directory.
    let out = std::path::absolute(out).map_err(|source| InstallError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut erlc = toolchain::command(Tool::Erlc)?;
    erlc.current_dir(src)
        .args(ERLC_OPTIONS)
        .arg("-pa")
        .arg(&out)
        .arg("-o")
        .arg(&out);
    for (name, _) in ERLANG_SOURCES {
        erlc.arg(name);
    }
    let output = toolchain::output(Tool::Erlc, &mut erlc)?;
    if !output.status.success() {
        return Err(InstallError::Compile(toolchain::printed(&output)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// The code of a shared object: its `.text` section's bytes.
    fn text(library: &[u8]) -> &[u8] {
        let elf = goblin::elf::Elf::parse(library).expect("an ELF shared object");
        let section = elf
            .section_headers
            .iter()
            .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(".text"))
            .expect("a .text section");
        &library[section.file_range().expect("in the file")]
    }

    #[test]
    fn the_bundled_library_holds_the_code_it_was_built_from() {
        // bundle/build.rs names the library it bundled: the workspace's release build
        // (ELIXIR_SCOPE_NIF) or its own nested one, before stripping its debug info.
        let source = std::fs::read(env!("ELIXIR_SCOPE_NIF_SOURCE")).unwrap();
        assert!(NIF_LIBRARY.len() < source.len(), "debug info stripped");
        assert!(text(NIF_LIBRARY) == text(&source), "the same code");
    }

    #[test]
    fn the_bundle_holds_every_module_of_the_runtime() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime_nif/erlang");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".erl"))
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = ERLANG_SOURCES
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        bundled.sort();
        assert_eq!(bundled, on_disk);
        assert_eq!(ERLANG_SOURCES[0].0, "elixir_scope_contract.erl");
    }

    #[test]
    fn installs_once_and_completely() {
        let dir = tempfile::tempdir().unwrap();
        let Installed::Fresh(files) = install(dir.path(), "[]").unwrap() else {
            panic!("expected a fresh install");
        };
        assert!(files.contains(&"elixir_scope_runtime.beam".to_string()));
        for file in &files {
            assert!(dir.path().join(file).is_file(), "{file} missing");
            if file.ends_with(".beam") {
                // Tools that read every beam of an ebin read ours too.
                let summary =
                    beam_format::summary::Summary::of_file(&dir.path().join(file)).unwrap();
                assert_ne!(summary.debug_info, "none", "{file} has no debug info");
            }
        }
        assert_eq!(
            install(dir.path(), "[]").unwrap(),
            Installed::AlreadyCurrent
        );
        let settings = std::fs::read_to_string(dir.path().join(SETTINGS_FILE)).unwrap();
        assert!(settings.ends_with("[].\n"), "{settings}");

        // New settings are written without reinstalling the rest.
        let new = "[{ring_capacity, 1024}]";
        assert_eq!(install(dir.path(), new).unwrap(), Installed::AlreadyCurrent);
        let settings = std::fs::read_to_string(dir.path().join(SETTINGS_FILE)).unwrap();
        assert!(
            settings.ends_with("[{ring_capacity, 1024}].\n"),
            "{settings}"
        );

        // A missing file makes it install again.
        std::fs::remove_file(dir.path().join("elixir_scope_nif.beam")).unwrap();
        assert!(matches!(
            install(dir.path(), "[]").unwrap(),
            Installed::Fresh(_)
        ));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".elixir_scope_install"))
            .collect();
        assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
    }

    #[test]
    fn elixir_projects_get_the_iex_helpers_and_erlang_projects_do_not() {
        // An empty directory (Elixir is installed here): the helpers come along.
        let dir = tempfile::tempdir().unwrap();
        let Installed::Fresh(files) = install(dir.path(), "[]").unwrap() else {
            panic!("expected a fresh install");
        };
        assert!(files.contains(&ELIXIR_MODULE_BEAM.to_string()), "{files:?}");
        assert!(dir.path().join("Elixir.ElixirScope.Format.beam").is_file());
        assert!(files.contains(&"Elixir.Mix.Tasks.ElixirScope.Reload.beam".to_string()));

        // A directory of Erlang beams only: a pure-Erlang project, no helpers.
        let erlang = tempfile::tempdir().unwrap();
        std::fs::copy(
            dir.path().join("elixir_scope_nif.beam"),
            erlang.path().join("my_app.beam"),
        )
        .unwrap();
        let Installed::Fresh(files) = install(erlang.path(), "[]").unwrap() else {
            panic!("expected a fresh install");
        };
        assert!(!files.iter().any(|f| f.starts_with("Elixir.")), "{files:?}");
        assert!(!erlang.path().join(ELIXIR_MODULE_BEAM).exists());
        assert_eq!(
            install(erlang.path(), "[]").unwrap(),
            Installed::AlreadyCurrent
        );

        // An Elixir beam appears: the helpers are installed then.
        std::fs::copy(
            dir.path().join(ELIXIR_MODULE_BEAM),
            erlang.path().join("Elixir.MyApp.beam"),
        )
        .unwrap();
        let Installed::Fresh(files) = install(erlang.path(), "[]").unwrap() else {
            panic!("expected a fresh install");
        };
        assert!(files.contains(&ELIXIR_MODULE_BEAM.to_string()), "{files:?}");

        // A helper beam removed is put back.
        std::fs::remove_file(erlang.path().join("Elixir.ElixirScope.Query.beam")).unwrap();
        assert!(matches!(
            install(erlang.path(), "[]").unwrap(),
            Installed::Fresh(_)
        ));
        assert!(erlang
            .path()
            .join("Elixir.ElixirScope.Query.beam")
            .is_file());
    }

    #[test]
    fn cover_leaves_the_runtime_alone_and_tools_still_read_its_debug_info() {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), "[]").unwrap();
        let ebin = erlang_chars(dir.path());
        let elixir = toolchain::elixir_ebin().unwrap();
        // Every beam: cover refuses it, its abstract code reads, and it compiles to Core
        // Erlang (what Dialyzer asks of debug info).
        let script = format!(
            "Beams = filelib:wildcard(filename:join({ebin}, \"*.beam\")), \
             [begin \
                {{error, {{no_file_attribute, _}}}} = cover:compile_beam(B), \
                {{ok, {{_, [{{abstract_code, {{raw_abstract_v1, [_ | _]}}}}]}}}} = \
                    beam_lib:chunks(B, [abstract_code]), \
                {{ok, {{M, [{{debug_info, {{debug_info_v1, Backend, Data}}}}]}}}} = \
                    beam_lib:chunks(B, [debug_info]), \
                {{ok, _}} = Backend:debug_info(core_v1, M, Data, []) \
              end || B <- Beams], \
             io:format(\"~b\", [length(Beams)]), halt()."
        );
        let output = Command::new("erl")
            .current_dir("/")
            .arg("-pa")
            .arg(&elixir)
            .args(["-noshell", "-eval", &script])
            .output()
            .unwrap();
        let checked = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{checked}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(checked.parse::<usize>().unwrap() >= 8, "{checked}");
    }

    #[test]
    fn uninstall_leaves_what_the_compiler_wrote() {
        let dir = tempfile::tempdir().unwrap();
        // An application's ebin as Mix leaves it after a compile that followed an install:
        // its .app lists the runtime's modules too.
        std::fs::copy(
            std::env::current_exe().unwrap(),
            dir.path().join("not_a_beam.bin"),
        )
        .unwrap();
        let Installed::Fresh(files) = install(dir.path(), "[]").unwrap() else {
            panic!("expected a fresh install");
        };
        let mut modules: Vec<String> = files
            .iter()
            .filter_map(|f| f.strip_suffix(".beam"))
            .map(|m| format!("'{m}'"))
            .collect();
        modules.push("'Elixir.MyApp'".into());
        modules.sort();
        let app = app_text;
        std::fs::write(dir.path().join("my_app.app"), app(&modules)).unwrap();
        let removed = uninstall(dir.path()).unwrap();
        assert!(
            removed.files.contains(&STAMP_FILE.to_string()),
            "{removed:?}"
        );
        assert_eq!(removed.app_files, vec!["my_app.app".to_string()]);
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut left = left;
        left.sort();
        assert_eq!(left, ["my_app.app", "not_a_beam.bin"]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("my_app.app")).unwrap(),
            app(&["'Elixir.MyApp'".to_string()])
        );
        // Nothing left to remove: nothing changes.
        assert_eq!(uninstall(dir.path()).unwrap(), Uninstalled::default());
    }

    /// A `.app` as Mix writes it (`io_lib:format("~p.~n", ...)`), listing `modules` (atoms
    /// as Erlang text).
    fn app_text(modules: &[String]) -> String {
        let script = format!(
            "T = {{application, my_app, [{{description, \"my_app\"}}, {{modules, [{}]}}, \
             {{registered, []}}, {{vsn, \"0.1.0\"}}]}}, \
             io:format(\"~s\", [io_lib:format(<<\"~p.~n\">>, [T])]), halt().",
            modules.join(",")
        );
        let out = Command::new("erl")
            .current_dir("/")
            .args(["-noshell", "-eval", &script])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    /// The modules a `.app` lists, as `erl` reads them.
    fn listed_in(app: &Path) -> Vec<String> {
        let script = format!(
            "{{ok, [{{application, _, Props}}]}} = file:consult({}), \
             [io:format(\"~s~n\", [M]) || M <- proplists:get_value(modules, Props)], halt().",
            erlang_chars(app)
        );
        let out = Command::new("erl")
            .current_dir("/")
            .args(["-noshell", "-eval", &script])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn install_lists_the_runtime_in_the_app_so_that_a_release_loads_it() {
        // An ebin as a fresh `MIX_ENV=prod mix release` leaves it before the compile alias
        // runs `instrument`: the .app lists the application's own modules only, and a release
        // loads only what the .app lists.
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("my_app.app");
        let original = app_text(&["'Elixir.MyApp'".to_string()]);
        std::fs::write(&app, &original).unwrap();
        let Installed::Fresh(files) = install(dir.path(), "[]").unwrap() else {
            panic!("expected a fresh install");
        };
        let runtime: Vec<String> = files
            .iter()
            .filter_map(|f| f.strip_suffix(".beam"))
            .map(str::to_string)
            .collect();
        assert!(
            runtime.iter().any(|m| m == "elixir_scope_gate"),
            "{runtime:?}"
        );
        let listed = listed_in(&app);
        assert_eq!(
            listed[0], "Elixir.MyApp",
            "its own modules first, in their order"
        );
        for module in &runtime {
            assert!(listed.contains(module), "{module} not in {listed:?}");
        }
        // Installing again changes nothing; nor does a .app Mix wrote again (every beam).
        let listed_once = std::fs::read(&app).unwrap();
        assert_eq!(
            install(dir.path(), "[]").unwrap(),
            Installed::AlreadyCurrent
        );
        assert_eq!(std::fs::read(&app).unwrap(), listed_once);
        // A .app without the runtime's modules (written again by a compile that ran before
        // the install was current) gets them back even when the install is.
        std::fs::write(&app, &original).unwrap();
        assert_eq!(
            install(dir.path(), "[]").unwrap(),
            Installed::AlreadyCurrent
        );
        assert_eq!(std::fs::read(&app).unwrap(), listed_once);
        // Uninstalling gives back the .app the compiler wrote, byte for byte.
        uninstall(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&app).unwrap(), original);
    }

    #[test]
    fn an_app_under_a_relative_path_is_listed_too() {
        // `instrument ebin tebin`, as an Erlang project runs it: paths relative to the
        // working directory, while `erl` runs elsewhere.
        // (A directory under the working directory: `../x` would read the same from `/`.)
        let dir = tempfile::Builder::new()
            .prefix(".elixir_scope_test-")
            .tempdir_in(".")
            .unwrap();
        let app = dir.path().join("my_app.app");
        std::fs::write(&app, app_text(&["my_app".to_string()])).unwrap();
        let relative = PathBuf::from(dir.path().file_name().unwrap());
        assert!(relative.is_relative() && relative.join("my_app.app").is_file());
        install(&relative, "[]").unwrap();
        assert!(listed_in(&app).contains(&"elixir_scope_gate".to_string()));
        uninstall(&relative).unwrap();
        assert_eq!(listed_in(&app), ["my_app"]);
    }

    #[test]
    fn a_bad_app_file_is_named_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("broken.app");
        std::fs::write(&app, "{application, broken, [{modules, [").unwrap();
        let err = install(dir.path(), "[]").unwrap_err();
        assert!(matches!(err, InstallError::App { .. }), "{err}");
        assert!(err.to_string().contains("broken.app"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&app).unwrap(),
            "{application, broken, [{modules, ["
        );
    }

    fn app(name: &str, needs: &[&str]) -> BuildApp {
        BuildApp {
            name: name.to_string(),
            ebin: PathBuf::from(format!("_build/dev/lib/{name}/ebin")),
            role: discover::AppRole::Project,
            why: String::new(),
            needs: needs.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn base(apps: &[BuildApp]) -> Option<String> {
        let apps: Vec<&BuildApp> = apps.iter().collect();
        base_of(&apps).map(|app| app.name.clone())
    }

    #[test]
    fn the_runtime_goes_into_the_application_every_other_one_needs() {
        let otp = ["kernel", "stdlib", "elixir", "logger"];
        // A project of one.
        assert_eq!(base(&[app("shop", &otp)]).as_deref(), Some("shop"));
        // An umbrella whose web and admin children need core, directly or through each other.
        let umbrella = [
            app("admin", &["web", "logger"]),
            app("core", &otp),
            app("web", &["core", "elixir"]),
        ];
        assert_eq!(base(&umbrella).as_deref(), Some("core"));
        // A diamond: a needs b and c, both need d.
        let diamond = [
            app("a", &["b", "c"]),
            app("b", &["d"]),
            app("c", &["d"]),
            app("d", &[]),
        ];
        assert_eq!(base(&diamond).as_deref(), Some("d"));
        // Two children that need each other: the one with fewer needs of its own, by name.
        assert_eq!(
            base(&[app("x", &["y"]), app("y", &["x"])]).as_deref(),
            Some("x")
        );
        // Independent children: no one place (the runtime goes into each).
        assert_eq!(base(&[app("api", &otp), app("worker", &otp)]), None);
    }

    #[test]
    fn refuses_a_missing_directory() {
        let err = install(Path::new("/nonexistent/ebin"), "[]").unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }
}
