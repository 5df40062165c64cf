//! Where `elixir_scope.toml` is: the working directory or the nearest directory above it that
//! holds one.

use std::path::{Path, PathBuf};

/// The configuration file's name.
pub const FILE_NAME: &str = "elixir_scope.toml";

/// The nearest `elixir_scope.toml` in `start` or a directory above it; `None` when there is
/// none (every setting then has its default).
pub fn find(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_file_upwards() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find(&deep), None);
        std::fs::write(root.path().join(FILE_NAME), "").unwrap();
        assert_eq!(find(&deep), Some(root.path().join(FILE_NAME)));
        std::fs::write(root.path().join("a/b").join(FILE_NAME), "").unwrap();
        assert_eq!(find(&deep), Some(root.path().join("a/b").join(FILE_NAME)));
        // A directory with the file's name is not the file.
        std::fs::create_dir_all(deep.join(FILE_NAME)).unwrap();
        assert_eq!(find(&deep), Some(root.path().join("a/b").join(FILE_NAME)));
    }
}
