//! Finding `erl` and Elixir, and what helpers are started with.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use toolchain::Tool;

use super::{Helper, HelperError};

/// The Erlang source of the helper, embedded at build time.
pub const HELPER_SOURCE: &str = include_str!("../../erlang/elixir_scope_helper.erl");

/// How long one request may take before the helper is considered stuck. The slowest module of
/// OTP compiles in a few seconds on one core; this leaves a wide margin for slow machines.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The debug-info backends a helper loads: Erlang's and Elixir's. A beam names the module
/// that turns its debug info into forms, and loading a module a beam names runs code chosen
/// by whoever wrote the beam; others must be trusted explicitly ([`BACKENDS_ENV`]).
pub const TRUSTED_BACKENDS: [&str; 2] = ["erl_abstract_code", "elixir_erl"];

/// The environment variable that names more debug-info backends to trust, comma-separated
/// (the modules of another BEAM language, installed on the code path).
pub const BACKENDS_ENV: &str = "ELIXIR_SCOPE_DEBUG_INFO_BACKENDS";

/// Where the BEAM is, and how long a request may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperConfig {
    /// The `erl` executable.
    pub erl: PathBuf,
    /// Elixir's `ebin` directory (holding `elixir_erl`), needed for Elixir beams.
    pub elixir_ebin: Option<PathBuf>,
    /// The longest a single request may take.
    pub timeout: Duration,
    /// The debug-info backends helpers may load (`TRUSTED_BACKENDS` and those of
    /// `BACKENDS_ENV`).
    pub backends: Vec<String>,
    /// A directory where helpers keep their compiled beam between runs (the plan cache of
    /// the project), or `None` to compile it at every start.
    pub compiled_cache: Option<PathBuf>,
}

impl HelperConfig {
    /// Finds `erl` on `PATH`, and Elixir's `ebin` from the `elixir` executable if there is one;
    /// trusts the backends of `TRUSTED_BACKENDS` and `BACKENDS_ENV`.
    pub fn discover() -> Result<HelperConfig, HelperError> {
        let erl = toolchain::find(Tool::Erl)?;
        let extra = std::env::var(BACKENDS_ENV).unwrap_or_default();
        Ok(HelperConfig {
            erl,
            elixir_ebin: toolchain::elixir_ebin(),
            timeout: DEFAULT_TIMEOUT,
            backends: trusted_backends(&extra)?,
            compiled_cache: None,
        })
    }
}

/// [`TRUSTED_BACKENDS`] and the comma-separated module names of `extra`.
fn trusted_backends(extra: &str) -> Result<Vec<String>, HelperError> {
    let mut backends: Vec<String> = TRUSTED_BACKENDS.iter().map(|b| b.to_string()).collect();
    for name in extra.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let plain = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.'));
        if !plain || name.len() > 255 {
            return Err(HelperError::BadBackend(name.to_string()));
        }
        if !backends.iter().any(|b| b == name) {
            backends.push(name.to_string());
        }
    }
    Ok(backends)
}

/// Starts helpers for one run.
#[derive(Debug)]
pub struct Launcher {
    config: HelperConfig,
}

/// The prefix of the temporary directories that earlier versions wrote the helper's source
/// to (one per run, left behind when the run was killed).
const OLD_SOURCE_DIR_PREFIX: &str = "elixir-scope-helper";

/// How old such a directory must be before it is taken for a leftover (no run takes this
/// long; a younger one may belong to an earlier version's run still going on).
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

impl Launcher {
    /// A launcher for helpers configured by `config`. The helper's source goes to each `erl`
    /// on its command line, so nothing is written anywhere; directories that earlier versions
    /// wrote it to and left behind (killed runs) are removed.
    pub fn new(config: HelperConfig) -> Result<Launcher, HelperError> {
        remove_leftover_source_dirs(&std::env::temp_dir(), LEFTOVER_AGE);
        Ok(Launcher { config })
    }

    /// The configuration helpers are started with.
    pub fn config(&self) -> &HelperConfig {
        &self.config
    }

    /// Starts one helper process.
    pub fn start(&self) -> Result<Helper, HelperError> {
        Helper::start(&self.config)
    }
}

/// Removes `DIR/elixir-scope-helper*` directories older than `age` (best effort: one that
/// cannot be removed stays); returns how many were removed.
fn remove_leftover_source_dirs(dir: &Path, age: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(OLD_SOURCE_DIR_PREFIX));
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|elapsed| elapsed >= age);
        if is_ours && meta.is_dir() && old && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_source_is_the_helper_module() {
        assert!(HELPER_SOURCE.contains("-module(elixir_scope_helper)."));
        assert!(HELPER_SOURCE.contains("-export([main/1])."));
    }

    #[test]
    fn trusts_erlang_and_elixir_and_the_named_backends_only() {
        assert_eq!(
            trusted_backends("").unwrap(),
            ["erl_abstract_code", "elixir_erl"]
        );
        assert_eq!(
            trusted_backends(" lfe_backend , elixir_erl,").unwrap(),
            ["erl_abstract_code", "elixir_erl", "lfe_backend"]
        );
        let error = trusted_backends("ok,'x'").unwrap_err();
        assert!(error.to_string().contains("not a module name"), "{error}");
    }

    #[test]
    fn leftover_source_directories_of_earlier_versions_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let leftover = tmp.path().join("elixir-scope-helperAbC123");
        std::fs::create_dir(&leftover).unwrap();
        std::fs::write(leftover.join("elixir_scope_helper.erl"), "").unwrap();
        let other = tmp.path().join("something-else");
        std::fs::create_dir(&other).unwrap();
        assert_eq!(
            remove_leftover_source_dirs(tmp.path(), LEFTOVER_AGE),
            0,
            "a young one may be in use"
        );
        assert_eq!(remove_leftover_source_dirs(tmp.path(), Duration::ZERO), 1);
        assert!(!leftover.exists());
        assert!(other.exists());
    }
}
