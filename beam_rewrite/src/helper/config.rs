//! Finding `erl` and Elixir, and preparing the helper's source for a run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Helper, HelperError};

/// The Erlang source of the helper, embedded at build time.
pub const HELPER_SOURCE: &str = include_str!("../../erlang/elixir_scope_helper.erl");

/// The file name the source is written under (the module name must match it).
const SOURCE_NAME: &str = "elixir_scope_helper.erl";

/// How long one request may take before the helper is considered stuck. The slowest module of
/// OTP compiles in a few seconds on one core; this leaves a wide margin for slow machines.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Where the BEAM is, and how long a request may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperConfig {
    /// The `erl` executable.
    pub erl: PathBuf,
    /// Elixir's `ebin` directory (holding `elixir_erl`), needed for Elixir beams.
    pub elixir_ebin: Option<PathBuf>,
    /// The longest a single request may take.
    pub timeout: Duration,
}

impl HelperConfig {
    /// Finds `erl` on `PATH`, and Elixir's `ebin` from the `elixir` executable if there is one.
    pub fn discover() -> Result<HelperConfig, HelperError> {
        let erl = which::which("erl").map_err(|_| HelperError::NotFound {
            program: "erl",
            hint: "install Erlang/OTP (apt-get install erlang-nox)",
        })?;
        Ok(HelperConfig {
            erl,
            elixir_ebin: which::which("elixir").ok().and_then(|e| elixir_ebin(&e)),
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

/// Elixir's `lib/elixir/ebin`, from the path of the `elixir` script (`ROOT/bin/elixir`, often
/// reached through a symlink such as `/usr/bin/elixir`).
fn elixir_ebin(elixir: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(elixir).ok()?;
    let ebin = real.parent()?.parent()?.join("lib/elixir/ebin");
    ebin.join("elixir.app").is_file().then_some(ebin)
}

/// Starts helpers for one run: holds the configuration and the helper's source, written to a
/// temporary directory that is removed when the launcher is dropped.
#[derive(Debug)]
pub struct Launcher {
    config: HelperConfig,
    source: PathBuf,
    _dir: tempfile::TempDir,
}

impl Launcher {
    /// Writes the helper's source to a fresh temporary directory.
    pub fn new(config: HelperConfig) -> Result<Launcher, HelperError> {
        let dir = tempfile::Builder::new()
            .prefix("elixir-scope-helper")
            .tempdir()
            .map_err(|source| HelperError::Source {
                path: std::env::temp_dir(),
                source,
            })?;
        let source = dir.path().join(SOURCE_NAME);
        std::fs::write(&source, HELPER_SOURCE).map_err(|e| HelperError::Source {
            path: source.clone(),
            source: e,
        })?;
        Ok(Launcher {
            config,
            source,
            _dir: dir,
        })
    }

    /// The configuration helpers are started with.
    pub fn config(&self) -> &HelperConfig {
        &self.config
    }

    /// Starts one helper process.
    pub fn start(&self) -> Result<Helper, HelperError> {
        Helper::start(&self.config, &self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_source_is_the_helper_module() {
        assert!(HELPER_SOURCE.contains("-module(elixir_scope_helper)."));
        assert!(HELPER_SOURCE.contains("-export([main/0])."));
    }

    #[test]
    fn finds_elixir_ebin_only_next_to_a_real_elixir() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("elixir"), "").unwrap();
        assert_eq!(elixir_ebin(&bin.join("elixir")), None);
        let ebin = dir.path().join("lib/elixir/ebin");
        std::fs::create_dir_all(&ebin).unwrap();
        std::fs::write(ebin.join("elixir.app"), "").unwrap();
        let found = elixir_ebin(&bin.join("elixir")).unwrap();
        assert_eq!(
            std::fs::canonicalize(found).unwrap(),
            std::fs::canonicalize(ebin).unwrap()
        );
    }
}
