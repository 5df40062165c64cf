//! Which `.beam` files a path stands for.
//!
//! - a `.beam` file: itself;
//! - a directory holding `.beam` files (an `ebin`): those files;
//! - an application directory (with an `ebin` subdirectory): the beams of its `ebin`;
//! - a Mix build directory such as `_build/dev`, or an OTP/Elixir root (anything with
//!   `lib/*/ebin`): the beams of every `lib/*/ebin`.
//!
//! Consolidated protocols (`_build/ENV/lib/APP/consolidated`) are never included: Mix rebuilds
//! them from the protocols' debug info, which the rewriter keeps.
//!
//! [`mix_build`] reads the applications of a Mix build directory and tells the project's own
//! from its dependencies ([`AppRole`]); [`build_dir_of`] finds the build directory a path is in.
//!
//! The planner (`elixir-scope plan` and `instrument`), `restore`, `doctor` and the runtime's
//! installation (`bundle`, which puts the runtime into the project's own applications) all ask
//! here, so this crate depends on nothing of the workspace.

mod apps;

use std::path::{Path, PathBuf};

pub use apps::{build_dir_of, mix_build, AppRole, BuildApp, MixBuild};

/// Why a path stands for no beams.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The path cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not a `.beam`.
    #[error("{0}: not a .beam file")]
    NotBeam(PathBuf),
    /// An application's `.app` file cannot be read as one.
    #[error("{path}: {reason}")]
    BadAppFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A directory without beams.
    #[error("{0}: no .beam files here (expected a .beam file, an ebin directory, or a Mix build directory such as _build/dev)")]
    NoBeams(PathBuf),
}

/// The beams the paths stand for, sorted, each once.
pub fn beam_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut beams = Vec::new();
    for path in paths {
        let found = beams_of(path)?;
        if found.is_empty() {
            return Err(DiscoverError::NoBeams(path.clone()));
        }
        beams.extend(found);
    }
    beams.sort();
    beams.dedup();
    Ok(beams)
}

fn beams_of(path: &Path) -> Result<Vec<PathBuf>, DiscoverError> {
    let meta = std::fs::metadata(path).map_err(|source| DiscoverError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return if is_beam(path) {
            Ok(vec![path.to_path_buf()])
        } else {
            Err(DiscoverError::NotBeam(path.to_path_buf()))
        };
    }
    let direct = beams_in(path)?;
    if !direct.is_empty() {
        return Ok(direct);
    }
    let ebin = path.join("ebin");
    if ebin.is_dir() {
        return beams_in(&ebin);
    }
    let lib = path.join("lib");
    let mut beams = Vec::new();
    if lib.is_dir() {
        for app in entries(&lib)? {
            let ebin = app.join("ebin");
            if ebin.is_dir() {
                beams.extend(beams_in(&ebin)?);
            }
        }
    }
    Ok(beams)
}

fn beams_in(dir: &Path) -> Result<Vec<PathBuf>, DiscoverError> {
    Ok(entries(dir)?
        .into_iter()
        .filter(|p| is_beam(p) && p.is_file())
        .collect())
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, DiscoverError> {
    let io = |source| DiscoverError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()).map_err(io))
        .collect()
}

fn is_beam(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "beam")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn expands_files_ebins_apps_and_build_dirs() {
        let root = tempfile::tempdir().unwrap();
        let build = root.path().join("_build/dev");
        touch(&build.join("lib/app/ebin/Elixir.App.beam"));
        touch(&build.join("lib/app/ebin/app.app"));
        touch(&build.join("lib/app/consolidated/Elixir.Enumerable.beam"));
        touch(&build.join("lib/dep/ebin/dep.beam"));
        touch(&build.join("lib/dep/ebin/dep.beam.es-tmp123"));
        std::fs::create_dir_all(build.join("lib/no_ebin")).unwrap();

        let all = beam_files(std::slice::from_ref(&build)).unwrap();
        assert_eq!(
            all,
            [
                build.join("lib/app/ebin/Elixir.App.beam"),
                build.join("lib/dep/ebin/dep.beam")
            ]
        );
        let app = beam_files(&[build.join("lib/dep")]).unwrap();
        assert_eq!(app, [build.join("lib/dep/ebin/dep.beam")]);
        let twice = beam_files(&[
            build.join("lib/dep/ebin"),
            build.join("lib/dep/ebin/dep.beam"),
        ])
        .unwrap();
        assert_eq!(twice.len(), 1);
    }

    #[test]
    fn says_what_is_wrong_with_a_path() {
        let root = tempfile::tempdir().unwrap();
        touch(&root.path().join("notes.txt"));
        let errors = [
            beam_files(&[root.path().join("missing")]).unwrap_err(),
            beam_files(&[root.path().join("notes.txt")]).unwrap_err(),
            beam_files(&[root.path().to_path_buf()]).unwrap_err(),
        ];
        assert!(matches!(errors[0], DiscoverError::Io { .. }));
        assert!(errors[1].to_string().contains("not a .beam file"));
        assert!(errors[2].to_string().contains("no .beam files here"));
    }
}
