//! What can be wrong with a configuration file. Every error names the file; errors about its
//! content also name the line, the column and the key.

use std::fmt;
use std::path::PathBuf;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a bad value.
    #[error("{path}:{location}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where in the file, and which key.
        location: Location,
        /// What is wrong.
        message: String,
    },
}

/// A place in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The dotted key (`plan.strategy`, `capture.rules[1].functions`), when known.
    pub key: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)?;
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// The key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { location, .. } => location.key.as_deref(),
            ConfigError::Read { .. } => None,
        }
    }

    /// The line the error is about, if it is about the content.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { location, .. } => Some(location.line),
            ConfigError::Read { .. } => None,
        }
    }
}
