//! The applications of a Mix build directory (`_build/ENV/lib/*/ebin`), and which of them are
//! the project's own and which are dependencies.
//!
//! Each application's `ebin/APP.app` (an Erlang term, read with `erl_tokenize`) lists the
//! applications it needs. The project's own applications are told from its dependencies by,
//! in order:
//! 1. `ROOT/apps/NAME/mix.exs` exists: an umbrella application, the project's own;
//! 2. `ROOT/deps/NAME` exists: a dependency Mix fetched;
//! 3. another application of the build lists it in `applications`, `included_applications` or
//!    `optional_applications`: a dependency (path dependencies land here);
//! 4. otherwise: the project's own (nothing in the build needs it: it is the root).
//!
//! `ROOT` is the directory holding `_build`. A dependency that nothing lists at run time
//! (`runtime: false`) and that has no `deps/NAME` would count as the project's own; with
//! hex.pm dependencies the `deps/` rule catches it.

use std::path::{Path, PathBuf};

use erl_tokenize::{Symbol, TokenKind, TokenValue};
use serde::Serialize;

use crate::DiscoverError;

/// Whether an application is the project's own or a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppRole {
    /// One of the project's own applications (the root, or an umbrella child).
    Project,
    /// A dependency.
    Dependency,
}

/// An application of a Mix build directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildApp {
    /// Its name (the directory under `lib/`, or the `.app` file's).
    pub name: String,
    /// Its `ebin` directory.
    pub ebin: PathBuf,
    /// The project's own, or a dependency.
    pub role: AppRole,
    /// Why it has that role.
    pub why: String,
    /// The applications its `.app` file lists (`applications`, `included_applications`,
    /// `optional_applications`).
    pub needs: Vec<String>,
}

/// A Mix build directory and its applications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MixBuild {
    /// The build directory (`_build/dev`).
    pub dir: PathBuf,
    /// The project's root (the directory holding `_build`), when the build directory is named
    /// like Mix's.
    pub project_root: Option<PathBuf>,
    /// Its applications, sorted by name.
    pub apps: Vec<BuildApp>,
}

impl MixBuild {
    /// The application whose `ebin` holds `beam`, if any.
    pub fn app_of(&self, beam: &Path) -> Option<&BuildApp> {
        let ebin = beam.parent()?;
        self.apps.iter().find(|app| app.ebin == ebin)
    }

    /// The project's own applications (where ElixirScope's runtime goes: the first is the root
    /// when there is one).
    pub fn project_apps(&self) -> impl Iterator<Item = &BuildApp> {
        self.apps.iter().filter(|a| a.role == AppRole::Project)
    }
}

/// The Mix build directory a path is in or is: `_build/dev` for `_build/dev`,
/// `_build/dev/lib/app`, `_build/dev/lib/app/ebin` or a beam in it. `None` for paths outside
/// any directory shaped like one: `DIR/lib/APP/ebin/APP.app`, with `DIR` inside a directory
/// named `_build` or some `DIR/lib/APP/.mix` (Mix's manifests), so that an OTP or Elixir
/// installation (also `lib/APP/ebin`) is not taken for one.
pub fn build_dir_of(path: &Path) -> Option<PathBuf> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    path.ancestors()
        .find(|dir| is_build_dir(dir))
        .map(Path::to_path_buf)
}

/// Whether `dir` looks like a Mix build directory (see [`build_dir_of`]).
fn is_build_dir(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir.join("lib")) else {
        return false;
    };
    let apps: Vec<PathBuf> = entries
        .flatten()
        .map(|app| app.path())
        .filter(|app| {
            let name = app.file_name().unwrap_or_default().to_string_lossy();
            app.join("ebin").join(format!("{name}.app")).is_file()
        })
        .collect();
    let in_build = dir
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "_build");
    !apps.is_empty() && (in_build || apps.iter().any(|app| app.join(".mix").is_dir()))
}

/// Reads the applications of the Mix build directory `dir` and tells the project's own from
/// its dependencies.
pub fn mix_build(dir: &Path) -> Result<MixBuild, DiscoverError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DiscoverError::Io { path, source }
    };
    let lib = dir.join("lib");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&lib).map_err(io(&lib))? {
        let app_dir = entry.map_err(io(&lib))?.path();
        let ebin = app_dir.join("ebin");
        if !ebin.is_dir() {
            continue;
        }
        let dir_name = app_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let app_file = ebin.join(format!("{dir_name}.app"));
        let (name, needs) = if app_file.is_file() {
            let text = std::fs::read_to_string(&app_file).map_err(io(&app_file))?;
            let parsed = parse_app_file(&text).map_err(|reason| DiscoverError::BadAppFile {
                path: app_file.clone(),
                reason,
            })?;
            (parsed.name, parsed.needs)
        } else {
            (dir_name, Vec::new())
        };
        found.push((name, ebin, needs));
    }
    found.sort();
    let project_root = project_root(dir);
    let apps = found
        .iter()
        .map(|(name, ebin, needs)| {
            let (role, why) = role(name, project_root.as_deref(), &found);
            BuildApp {
                name: name.clone(),
                ebin: ebin.clone(),
                role,
                why,
                needs: needs.clone(),
            }
        })
        .collect();
    Ok(MixBuild {
        dir: dir.to_path_buf(),
        project_root,
        apps,
    })
}

/// `ROOT` of `ROOT/_build/ENV`.
fn project_root(build: &Path) -> Option<PathBuf> {
    let parent = build.parent()?;
    (parent.file_name()? == "_build").then(|| parent.parent().map(Path::to_path_buf))?
}

fn role(
    name: &str,
    root: Option<&Path>,
    apps: &[(String, PathBuf, Vec<String>)],
) -> (AppRole, String) {
    if let Some(root) = root {
        if root.join("apps").join(name).join("mix.exs").is_file() {
            return (
                AppRole::Project,
                format!("an umbrella application (apps/{name})"),
            );
        }
        if root.join("deps").join(name).is_dir() {
            return (AppRole::Dependency, format!("fetched into deps/{name}"));
        }
    }
    let users: Vec<&str> = apps
        .iter()
        .filter(|(other, _, needs)| other != name && needs.iter().any(|n| n == name))
        .map(|(other, _, _)| other.as_str())
        .collect();
    if users.is_empty() {
        (
            AppRole::Project,
            "no other application of the build needs it".into(),
        )
    } else {
        (
            AppRole::Dependency,
            format!("needed by {}", users.join(", ")),
        )
    }
}

/// What an `.app` file says that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AppFile {
    /// The application's name.
    name: String,
    /// `applications`, `included_applications` and `optional_applications`, in file order.
    needs: Vec<String>,
}

/// Reads `{application, Name, [{applications, [...]}, ...]}.`
fn parse_app_file(text: &str) -> Result<AppFile, String> {
    let tokens: Vec<_> = erl_tokenize::scan_tokens(text)
        .map_err(|e| format!("not an Erlang term: {e}"))?
        .into_iter()
        .filter(|t| t.kind().is_lexical())
        .collect();
    let symbol = |i: usize| match tokens.get(i).map(|t| t.kind()) {
        Some(TokenKind::Symbol(s)) => Some(s),
        _ => None,
    };
    let atom = |i: usize| match tokens.get(i).map(|t| t.value(text)) {
        Some(TokenValue::Atom(a)) => Some(a.into_owned()),
        _ => None,
    };
    let shape = || "expected {application, Name, [...]}.".to_string();
    if symbol(0) != Some(Symbol::OpenBrace)
        || atom(1).as_deref() != Some("application")
        || symbol(2) != Some(Symbol::Comma)
    {
        return Err(shape());
    }
    let name = atom(3).ok_or_else(shape)?;
    if symbol(4) != Some(Symbol::Comma) || symbol(5) != Some(Symbol::OpenSquare) {
        return Err(shape());
    }
    let mut needs = Vec::new();
    let mut depth = 2usize; // inside the outer tuple and its list
    let mut i = 6;
    while i < tokens.len() {
        match symbol(i) {
            Some(Symbol::OpenBrace) if depth == 2 => {
                let key = atom(i + 1);
                let is_list = symbol(i + 2) == Some(Symbol::Comma)
                    && symbol(i + 3) == Some(Symbol::OpenSquare);
                let listed = matches!(
                    key.as_deref(),
                    Some("applications" | "included_applications" | "optional_applications")
                );
                depth += 1;
                if listed && is_list {
                    i += 4;
                    while let Some(app) = atom(i) {
                        needs.push(app);
                        i += 1;
                        if symbol(i) == Some(Symbol::Comma) {
                            i += 1;
                        }
                    }
                    if symbol(i) == Some(Symbol::CloseSquare) {
                        i += 1;
                    }
                    continue;
                }
            }
            Some(Symbol::OpenBrace | Symbol::OpenSquare | Symbol::DoubleLeftAngle) => depth += 1,
            Some(Symbol::CloseBrace | Symbol::CloseSquare | Symbol::DoubleRightAngle) => {
                depth = depth.checked_sub(1).ok_or_else(shape)?;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 {
        return Err(shape());
    }
    let mut seen = std::collections::HashSet::new();
    needs.retain(|n| seen.insert(n.clone()));
    Ok(AppFile { name, needs })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = r#"{application,shop,
             [{applications,[kernel,stdlib,elixir,logger,money,luhn]},
              {description,"shop, with {applications, [fake]} in a string"},
              {modules,['Elixir.Shop','Elixir.Shop.Application']},
              {env,[{applications,[not_a_dependency]}, {bin, <<"x">>}]},
              {optional_applications,['opt_dep']},
              {registered,[]},
              {vsn,"0.1.0"},
              {mod,{'Elixir.Shop.Application',[]}}]}.
"#;

    #[test]
    fn reads_what_an_app_file_needs() {
        let app = parse_app_file(SHOP).unwrap();
        assert_eq!(app.name, "shop");
        assert_eq!(
            app.needs,
            ["kernel", "stdlib", "elixir", "logger", "money", "luhn", "opt_dep"]
        );
        assert!(parse_app_file("{module, x, []}.").is_err());
        assert!(parse_app_file("{application, x, [{applications, [a]}").is_err());
        assert!(parse_app_file("\"unterminated").is_err());
    }

    fn app(build: &Path, name: &str, needs: &[&str]) {
        let ebin = build.join("lib").join(name).join("ebin");
        std::fs::create_dir_all(&ebin).unwrap();
        let needs = needs.join(",");
        std::fs::write(
            ebin.join(format!("{name}.app")),
            format!("{{application,{name},[{{applications,[kernel,{needs}]}}]}}.\n"),
        )
        .unwrap();
    }

    #[test]
    fn tells_the_project_from_its_dependencies() {
        let root = tempfile::tempdir().unwrap();
        let build = root.path().join("_build/dev");
        app(&build, "shop", &["money", "luhn", "fetched"]);
        app(&build, "money", &[]);
        app(&build, "luhn", &[]);
        app(&build, "fetched", &[]);
        app(&build, "child", &["money"]);
        app(&build, "dev_tool", &[]);
        std::fs::create_dir_all(root.path().join("deps/dev_tool")).unwrap();
        std::fs::create_dir_all(root.path().join("apps/child")).unwrap();
        std::fs::write(root.path().join("apps/child/mix.exs"), "").unwrap();

        let found = mix_build(&build).unwrap();
        assert_eq!(found.project_root.as_deref(), Some(root.path()));
        let roles: Vec<(&str, AppRole)> = found
            .apps
            .iter()
            .map(|a| (a.name.as_str(), a.role))
            .collect();
        assert_eq!(
            roles,
            [
                ("child", AppRole::Project),
                ("dev_tool", AppRole::Dependency),
                ("fetched", AppRole::Dependency),
                ("luhn", AppRole::Dependency),
                ("money", AppRole::Dependency),
                ("shop", AppRole::Project),
            ]
        );
        let money = found.apps.iter().find(|a| a.name == "money").unwrap();
        assert_eq!(money.why, "needed by child, shop");
        let beam = build.join("lib/luhn/ebin/luhn.beam");
        assert_eq!(found.app_of(&beam).unwrap().name, "luhn");

        let canonical = std::fs::canonicalize(&build).unwrap();
        assert_eq!(
            build_dir_of(&beam.parent().unwrap().join("x.beam")),
            Some(canonical.clone())
        );
        assert_eq!(build_dir_of(&build), Some(canonical));
        assert_eq!(build_dir_of(root.path()), None);

        // An installation has lib/APP/ebin too, but is no Mix build.
        let otp = root.path().join("otp");
        app(&otp, "stdlib", &[]);
        assert_eq!(build_dir_of(&otp.join("lib/stdlib/ebin")), None);
        std::fs::create_dir_all(otp.join("lib/stdlib/.mix")).unwrap();
        assert!(
            build_dir_of(&otp.join("lib/stdlib/ebin")).is_some(),
            "Mix's manifests"
        );
    }
}
