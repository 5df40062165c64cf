//! Who may read a recording: its owner only.
//!
//! Recordings hold the arguments and results of calls, so whatever ElixirScope writes under its
//! directory is created readable by the owner alone: directories `0700`, files `0600`. This is
//! the one place that rule lives; the store, the plan cache and the CLI's exports go through it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Permissions of directories ElixirScope writes in.
pub const DIR_MODE: u32 = 0o700;
/// Permissions of files ElixirScope writes.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents; the ones created get [`DIR_MODE`] (existing ones are
/// left as they are: a database path may be under any directory).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// Makes `dir` ElixirScope's own: creates it (and its parents, see [`create_dir_all`]), and
/// narrows it to [`DIR_MODE`] if it exists with wider permissions and belongs to this user
/// (for `.elixir_scope/` of a project, which older versions created `0755`).
pub fn claim_dir(dir: &Path) -> io::Result<()> {
    create_dir_all(dir)?;
    restrict(dir, DIR_MODE)
}

/// Creates the file at `path` with [`FILE_MODE`] if it does not exist, else narrows an existing
/// one of this user's to [`FILE_MODE`]; returns it open for reading and writing.
pub fn create_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)?;
    restrict(path, FILE_MODE)?;
    Ok(file)
}

/// Creates a new file at `path` (never an existing one) with [`FILE_MODE`]; returns it open
/// for reading and writing.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    // The mode applies through the umask, which may have narrowed it: set it exactly.
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Narrows the permissions of `path` to `mode` when it grants more and belongs to this user.
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    let metadata = std::fs::metadata(path)?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    if metadata.uid() == me && metadata.permissions().mode() & 0o777 & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn what_is_created_is_the_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!((mode(&root.path().join("a")), mode(&dir)), (0o700, 0o700));
        let file = dir.join("trace.redb");
        create_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        // Existing ones are narrowed, never widened.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).unwrap();
        restrict(&file, FILE_MODE).unwrap();
        assert_eq!(mode(&file), 0o400);
        let wide = root.path().join("wide");
        std::fs::create_dir(&wide).unwrap();
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_dir_all(&wide).unwrap();
        assert_eq!(
            mode(&wide),
            0o755,
            "create_dir_all leaves existing directories alone"
        );
        claim_dir(&wide).unwrap();
        assert_eq!(mode(&wide), 0o700);
    }
}
