//! Where `elixir_scope.toml` is: the working directory or the nearest directory above it that
//! holds one; and where the project is when there is none (the nearest `mix.exs` or
//! `rebar.config` upwards).

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

/// The files that mark a project's directory when it has no `elixir_scope.toml`.
pub const PROJECT_FILES: [&str; 2] = ["mix.exs", "rebar.config"];

/// The nearest directory from `start` upwards that holds a project file ([`PROJECT_FILES`]):
/// a command run in a project's subdirectory works on the project.
pub fn find_project(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| PROJECT_FILES.iter().any(|f| dir.join(f).is_file()))
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_project_upwards() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("lib/shop");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_project(&deep), None);
        std::fs::write(root.path().join("mix.exs"), "").unwrap();
        assert_eq!(find_project(&deep), Some(root.path().to_path_buf()));
        std::fs::write(deep.join("rebar.config"), "").unwrap();
        assert_eq!(find_project(&deep), Some(deep.clone()));
    }

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
