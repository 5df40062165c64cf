//! Writing a file in place of another, so that, whenever the process dies, the reader finds
//! either the old file or the new one in full: write a temporary file next to it, flush it to
//! disk, rename it over the old. The one place where ElixirScope replaces files: the rewriter
//! (beams) and `export -o` both write through it.
//!
//! What the path names decides how:
//! - a regular file, or nothing yet: replaced atomically, as above;
//! - a symbolic link: its target is replaced (the link stays a link; a dangling link gets its
//!   target created), links followed up to [`MAX_LINKS`] deep;
//! - a character device or a pipe (`/dev/stdout`, `/dev/null`, a FIFO): written to directly,
//!   since there is nothing to rename over (renaming would replace the device with a file);
//! - anything else (a directory, a block device, a socket): refused with an error that says
//!   what it is.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// How many symbolic links are followed before giving up (as Linux's `ELOOP`).
pub const MAX_LINKS: usize = 40;

/// The permissions a replaced file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permissions {
    /// Those of the file it replaces (a new file: the temporary file's, 0600).
    KeepOriginal,
    /// Readable and writable by the owner only (0600), whatever the old file had: for files
    /// that may hold recorded values.
    OwnerOnly,
}

/// A file being written in place of another; nothing is visible at the path until
/// [`Replacement::commit`] (except when writing through to a device or a pipe). Dropped
/// without a commit, the temporary file is removed and the old file is untouched.
#[derive(Debug)]
pub struct Replacement {
    target: PathBuf,
    output: Output,
}

#[derive(Debug)]
enum Output {
    /// A temporary file in the target's directory, renamed over it on commit.
    Temporary(NamedTempFile),
    /// A character device or a pipe, written to directly.
    Through(File),
}

impl Replacement {
    /// Starts writing in place of `path` (see the module documentation for what it may name).
    ///
    /// The temporary file is `NAME.es-tmpXXXXXX` in the target's directory (a rename never
    /// crosses file systems); if the process is killed before the commit, that file is left
    /// behind (see `remove_leftovers`) and the original is untouched. Temporary names never
    /// end in `.beam`, so no loader picks them up.
    pub fn begin(path: &Path, permissions: Permissions) -> io::Result<Replacement> {
        let (target, existing) = resolve_links(path)?;
        if let Some(meta) = &existing {
            let kind = meta.file_type();
            if kind.is_char_device() || kind.is_fifo() {
                let file = OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&target)?;
                return Ok(Replacement {
                    target,
                    output: Output::Through(file),
                });
            }
            if !kind.is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} is {}: only regular files, character devices and pipes are written",
                        target.display(),
                        describe(meta)
                    ),
                ));
            }
        }
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name")
        })?;
        let temp = tempfile::Builder::new()
            .prefix(&format!("{}{TEMP_MARK}", name.to_string_lossy()))
            .tempfile_in(dir)?;
        if let (Permissions::KeepOriginal, Some(meta)) = (permissions, &existing) {
            temp.as_file().set_permissions(meta.permissions())?;
        }
        Ok(Replacement {
            target,
            output: Output::Temporary(temp),
        })
    }

    /// The file that is being replaced (`path` with its links followed).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Whether the bytes go straight to a character device or a pipe (nothing is renamed).
    pub fn writes_through(&self) -> bool {
        matches!(self.output, Output::Through(_))
    }

    /// Flushes everything to disk and puts the new file in place.
    pub fn commit(self) -> io::Result<()> {
        match self.output {
            Output::Temporary(temp) => {
                temp.as_file().sync_all()?;
                temp.persist(&self.target).map_err(|e| e.error)?;
            }
            Output::Through(mut file) => file.flush()?,
        }
        Ok(())
    }
}

impl Write for Replacement {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match &mut self.output {
            Output::Temporary(temp) => temp.write(bytes),
            Output::Through(file) => file.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.output {
            Output::Temporary(temp) => temp.flush(),
            Output::Through(file) => file.flush(),
        }
    }
}

/// Replaces `path` with `bytes`, keeping the old file's permissions (see [`Replacement`]).
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut replacement = Replacement::begin(path, Permissions::KeepOriginal)?;
    replacement.write_all(bytes)?;
    replacement.commit()
}

/// What temporary file names carry after the name of the file they replace.
pub const TEMP_MARK: &str = ".es-tmp";

/// Removes the temporary files a killed run left in `dir` (`NAME.es-tmpXXXXXX`); returns how
/// many. Call it only while no other run can be writing there (under the build's lock).
pub fn remove_leftovers(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_leftover = name
            .to_str()
            .and_then(|n| n.rsplit_once(TEMP_MARK))
            .is_some_and(|(before, after)| !before.is_empty() && after.len() == 6);
        if is_leftover && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// `path` with its symbolic links followed, and what is there (`None`: nothing yet).
fn resolve_links(path: &Path) -> io::Result<(PathBuf, Option<Metadata>)> {
    let mut current = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            Ok(meta) => return Ok((current, Some(meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((current, None)),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{}: more than {MAX_LINKS} levels of symbolic links",
            path.display()
        ),
    ))
}

/// What kind of file `meta` describes, for error messages.
fn describe(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn replaces_contents_and_keeps_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.beam");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace_file(&path, b"new bytes").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert_eq!(mode(&path), 0o640);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn owner_only_files_are_0600_whatever_they_replace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.json");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut out = Replacement::begin(&path, Permissions::OwnerOnly).unwrap();
        out.write_all(b"{}").unwrap();
        out.commit().unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_failed_write_leaves_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let missing_dir = dir.path().join("gone/m.beam");
        assert!(replace_file(&missing_dir, b"x").is_err());
        let path = dir.path().join("m.beam");
        std::fs::write(&path, b"old").unwrap();
        let mut out = Replacement::begin(&path, Permissions::KeepOriginal).unwrap();
        out.write_all(b"half").unwrap();
        drop(out);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn symbolic_links_stay_links_and_their_targets_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let target = real.join("m.beam");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        // A relative link to a relative link.
        let inner = dir.path().join("inner.beam");
        std::os::unix::fs::symlink("real/m.beam", &inner).unwrap();
        let link = dir.path().join("link.beam");
        std::os::unix::fs::symlink("inner.beam", &link).unwrap();

        replace_file(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert!(std::fs::symlink_metadata(&inner).unwrap().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(mode(&target), 0o640);

        // A dangling link gets its target created.
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink("real/out.json", &dangling).unwrap();
        replace_file(&dangling, b"{}").unwrap();
        assert!(std::fs::symlink_metadata(&dangling).unwrap().is_symlink());
        assert_eq!(std::fs::read(real.join("out.json")).unwrap(), b"{}");

        // A loop is an error, not a hang.
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let error = replace_file(&a, b"x").unwrap_err();
        assert!(error.to_string().contains("symbolic links"), "{error}");
    }

    #[test]
    fn pipes_are_written_through_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        replace_file(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "the pipe is still a pipe");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn character_devices_are_written_through() {
        // Our own nodes of /dev/null and /dev/full when we may make them (root); else the
        // system's, which a non-root run could not replace anyway.
        let dir = tempfile::tempdir().unwrap();
        let node = |name: &str, minor: &str| {
            let path = dir.path().join(name);
            let made = std::process::Command::new("mknod")
                .arg(&path)
                .args(["c", "1", minor])
                .output()
                .is_ok_and(|o| o.status.success());
            if made {
                path
            } else {
                Path::new("/dev").join(name)
            }
        };
        let (null, full) = (node("null", "3"), node("full", "7"));
        replace_file(&null, b"gone").unwrap();
        let kind = std::fs::metadata(&null).unwrap().file_type();
        assert!(kind.is_char_device(), "{null:?} is still a device");
        let error = replace_file(&full, b"x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::StorageFull, "{error}");
        let kind = std::fs::metadata(&full).unwrap().file_type();
        assert!(kind.is_char_device(), "{full:?} is still a device");
    }

    #[test]
    fn other_special_files_are_refused_with_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let error = replace_file(dir.path(), b"x").unwrap_err();
        assert!(error.to_string().contains("is a directory"), "{error}");
        let socket = dir.path().join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let error = replace_file(&socket, b"x").unwrap_err();
        assert!(error.to_string().contains("is a socket"), "{error}");
        assert!(std::fs::symlink_metadata(&socket)
            .unwrap()
            .file_type()
            .is_socket());
    }

    #[test]
    fn leftovers_of_killed_runs_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "m.beam",
            "m.beam.es-tmpAb12Cd",
            "Elixir.A.beam.es-tmp000000",
            "notes.es-tmp",
            "x.es-tmpTOOLONG1",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(remove_leftovers(dir.path()).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["m.beam", "notes.es-tmp", "x.es-tmpTOOLONG1"]);
    }
}
