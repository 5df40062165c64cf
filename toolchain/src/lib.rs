//! The BEAM toolchain ElixirScope drives: `erl`, `erlc`, `elixir`, `elixirc` and `mix`, found
//! on `PATH` one way for every part of the tool (the rewriter's helpers, the runtime's
//! installation, the Mix archive, `attach`, `doctor`), with one error that says what is
//! missing and what to install.
//!
//! - [`Tool`]: a program of the toolchain, with the Debian package that brings it;
//! - [`find`] and [`command`]: where a tool is, and a [`Command`] that runs it;
//! - [`output`]: runs a command to its end, a missing program told apart from a failing one;
//! - [`elixir_ebin`]: Elixir's own `ebin`, which holds the backend of Elixir beams' debug info.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A program of the BEAM toolchain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// The Erlang emulator.
    Erl,
    /// The Erlang compiler.
    Erlc,
    /// The Elixir script runner.
    Elixir,
    /// The Elixir compiler.
    Elixirc,
    /// Elixir's build tool.
    Mix,
}

impl Tool {
    /// Its executable's name.
    pub fn program(self) -> &'static str {
        match self {
            Tool::Erl => "erl",
            Tool::Erlc => "erlc",
            Tool::Elixir => "elixir",
            Tool::Elixirc => "elixirc",
            Tool::Mix => "mix",
        }
    }

    /// What to install to have it (Debian's packages, as `scripts/setup.sh` installs them).
    pub fn install_hint(self) -> &'static str {
        match self {
            Tool::Erl | Tool::Erlc => {
                "install Erlang/OTP (apt-get install -y erlang-nox erlang-dev erlang-src)"
            }
            Tool::Elixir | Tool::Elixirc | Tool::Mix => {
                "install Elixir (apt-get install -y elixir)"
            }
        }
    }
}

/// A program of the toolchain that could not be run, or that failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    /// It is not on `PATH`.
    #[error("`{}` is not on PATH; {}", .0.program(), .0.install_hint())]
    Missing(Tool),
    /// It could not be started.
    #[error("running {}: {source}", .tool.program())]
    Start {
        /// The program.
        tool: Tool,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// Where `tool` is: the first match on `PATH`.
pub fn find(tool: Tool) -> Result<PathBuf, ToolchainError> {
    which::which(tool.program()).map_err(|_| ToolchainError::Missing(tool))
}

/// A command that runs `tool` as found on `PATH` ([`find`]).
pub fn command(tool: Tool) -> Result<Command, ToolchainError> {
    find(tool).map(Command::new)
}

/// Runs `command` (made by [`command`] for `tool`) to its end and returns what it printed and
/// its status, whatever the status; an error only when it could not be started.
pub fn output(tool: Tool, command: &mut Command) -> Result<Output, ToolchainError> {
    command.output().map_err(|e| not_started(tool, e))
}

/// What a program printed, standard output then standard error, as text: what an error about
/// its failure shows.
pub fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The error for `tool` that could not be started for `source` (a missing program is
/// [`ToolchainError::Missing`]).
pub fn not_started(tool: Tool, source: std::io::Error) -> ToolchainError {
    match source.kind() {
        std::io::ErrorKind::NotFound => ToolchainError::Missing(tool),
        _ => ToolchainError::Start { tool, source },
    }
}

/// Elixir's `lib/elixir/ebin` (holding `elixir_erl`, the backend of Elixir beams' debug
/// info), found from the `elixir` script on `PATH`; `None` without Elixir.
pub fn elixir_ebin() -> Option<PathBuf> {
    ebin_of_elixir(&find(Tool::Elixir).ok()?)
}

/// Elixir's `lib/elixir/ebin` from the path of its `elixir` script (`ROOT/bin/elixir`, often
/// reached through a symlink such as `/usr/bin/elixir`), when it holds `elixir.app`.
pub fn ebin_of_elixir(elixir: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(elixir).ok()?;
    let ebin = real.parent()?.parent()?.join("lib/elixir/ebin");
    ebin.join("elixir.app").is_file().then_some(ebin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_says_what_to_install() {
        let error = output(Tool::Erlc, &mut Command::new("/nonexistent/erlc")).unwrap_err();
        assert!(matches!(error, ToolchainError::Missing(Tool::Erlc)));
        assert_eq!(
            error.to_string(),
            "`erlc` is not on PATH; install Erlang/OTP (apt-get install -y erlang-nox erlang-dev erlang-src)"
        );
    }

    #[test]
    fn finds_elixir_ebin_only_next_to_a_real_elixir() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let ebin = dir.path().join("lib/elixir/ebin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&ebin).unwrap();
        std::fs::write(bin.join("elixir"), "").unwrap();
        assert_eq!(ebin_of_elixir(&bin.join("elixir")), None);
        std::fs::write(ebin.join("elixir.app"), "").unwrap();
        assert_eq!(
            ebin_of_elixir(&bin.join("elixir")),
            Some(std::fs::canonicalize(&ebin).unwrap())
        );
        assert_eq!(ebin_of_elixir(&dir.path().join("nowhere")), None);
    }
}
