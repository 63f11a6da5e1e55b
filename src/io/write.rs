//! Writing files: every file or none, each replaced atomically, never through a planted link.
//!
//! Each file is first written to a temporary file beside its target, created with a name no
//! other process uses (`create_new`, so a symlink or file planted at that name is never
//! followed or overwritten), flushed and synced. Only when every temporary is complete is each
//! target replaced by one `rename`, which is atomic: a reader, or a process killed at any
//! moment, sees the old file or the new one, never a torn one and never none. A replaced file
//! keeps its permissions. The old contents stay reachable through a hard link until every file
//! is in place, so a failure part-way puts back exactly what was there. A temporary left by a
//! killed run is removed by the next run into the same directory.
//!
//! Only regular files are replaced: the writer never replaces what it did not create. A target
//! that is, or links to, this process's standard output or standard error (`-o /dev/stdout`)
//! is written to that stream; one that is, or links to, a character device (`/dev/null`, a
//! terminal) is written to in place. Anything else at the target — a link to a file or a
//! directory, a dangling link, a directory, a FIFO, a socket, a block device — is refused and
//! left as it was, before any file is written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::error::base::WriteError;

/// Hidden names for temporaries and backups contain this, so that stale ones can be found.
const MARK: &str = ".lwsplan-";
/// A temporary untouched for this long belongs to a run that died.
const STALE_AFTER: Duration = Duration::from_secs(600);

/// Writes each `(file name, contents)` into `dir`, creating it if needed: every file or none.
pub fn write_all(dir: &Path, files: &[(String, String)]) -> Result<(), WriteError> {
    write_all_with(dir, files, &mut |_| Ok(()))
}

fn error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> WriteError {
    let path = path.to_path_buf();
    move |source| WriteError {
        action,
        path,
        source,
    }
}

/// A name beside `name` that no other writer uses: this process, a counter and the time.
fn unique(dir: &Path, name: &str, what: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!(
        ".{name}{MARK}{}-{n}-{nanos}.{what}",
        std::process::id()
    ))
}

/// A temporary with `text`, created new (never through a link), synced, with `mode_of`'s
/// permissions when that file exists.
fn write_temp(temp: &Path, text: &str, mode_of: &Path) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(temp)?;
    let result = (|| {
        file.write_all(text.as_bytes())?;
        file.flush()?;
        if let Ok(meta) = fs::symlink_metadata(mode_of)
            && meta.is_file()
        {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()
    })();
    if result.is_err() {
        drop(file);
        let _ = fs::remove_file(temp);
    }
    result
}

/// Keeps `target`'s current contents reachable at `backup`: a hard link where the filesystem
/// has them, else a copy.
fn keep(target: &Path, backup: &Path) -> io::Result<()> {
    fs::hard_link(target, backup).or_else(|e| {
        if fs::symlink_metadata(target)?.is_file() {
            fs::copy(target, backup).map(|_| ())
        } else {
            Err(e)
        }
    })
}

/// Removes temporaries and backups that a killed run left behind.
fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with('.') || !name.contains(MARK) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// What the writer does with a target path.
enum Target {
    /// Nothing there, or a regular file: written beside it and renamed over it.
    File,
    /// A stream lwsplan writes to in place, never replaces.
    Stream(Stream),
    /// Something lwsplan did not create and will not replace, and why.
    Refused(&'static str),
}

/// A stream target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
    /// A character device, opened for writing where it is.
    Device,
}

impl Stream {
    fn write(self, target: &Path, text: &str) -> io::Result<()> {
        match self {
            Stream::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.flush()
            }
            Stream::Stderr => io::stderr().lock().write_all(text.as_bytes()),
            Stream::Device => {
                // No create, no truncate: the device is written to, never made or replaced.
                let mut device = OpenOptions::new().write(true).open(target)?;
                device.write_all(text.as_bytes())?;
                device.flush()
            }
        }
    }
}

/// Decides what `target` is without opening it: a regular file (or nothing) is replaced; a
/// link or special file is a stream when it reaches standard output, standard error or a
/// character device, and refused otherwise.
fn kind_of(target: &Path) -> Target {
    let Ok(meta) = fs::symlink_metadata(target) else {
        return Target::File;
    };
    if meta.is_file() {
        return Target::File;
    }
    if meta.is_dir() {
        return Target::Refused("it is a directory");
    }
    let Ok(reached) = fs::metadata(target) else {
        return Target::Refused(
            "it is a link to nothing; lwsplan replaces only regular files: remove the link",
        );
    };
    if let Some(stream) = stream_of(&reached) {
        return Target::Stream(stream);
    }
    if meta.is_symlink() {
        return Target::Refused(
            "it is a symbolic link, which lwsplan does not replace or write through: give the \
             file it points to, or remove the link",
        );
    }
    Target::Refused("it is not a regular file")
}

/// Standard output or error when `reached` is the very file they are open on (a pipe, a
/// terminal, a file), a device when it is a character device.
#[cfg(unix)]
fn stream_of(reached: &fs::Metadata) -> Option<Stream> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let same = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map(File::from)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| (m.dev(), m.ino()) == (reached.dev(), reached.ino()))
    };
    if same(io::stdout().as_fd()) {
        Some(Stream::Stdout)
    } else if same(io::stderr().as_fd()) {
        Some(Stream::Stderr)
    } else if reached.file_type().is_char_device() {
        Some(Stream::Device)
    } else {
        None
    }
}

/// Elsewhere nothing but regular files is written.
#[cfg(not(unix))]
fn stream_of(_: &fs::Metadata) -> Option<Stream> {
    None
}

/// [`write_all`], calling `fault` before each filesystem step so tests can make any step fail.
fn write_all_with(
    dir: &Path,
    files: &[(String, String)],
    fault: &mut dyn FnMut(&str) -> io::Result<()>,
) -> Result<(), WriteError> {
    fs::create_dir_all(dir).map_err(error("create", dir))?;
    remove_stale(dir);
    let mut temps: Vec<PathBuf> = Vec::new();
    let mut backups: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut installed: Vec<PathBuf> = Vec::new();
    let mut streams: Vec<(PathBuf, Stream, &String)> = Vec::new();
    let result = (|| -> Result<(), WriteError> {
        let mut replaced = Vec::new();
        for (name, text) in files {
            let target = dir.join(name);
            match kind_of(&target) {
                Target::File => replaced.push((name, text)),
                Target::Stream(stream) => streams.push((target, stream, text)),
                Target::Refused(why) => {
                    return Err(WriteError {
                        action: "replace",
                        path: target,
                        source: io::Error::other(why),
                    });
                }
            }
        }
        for (name, text) in replaced.iter().copied() {
            let target = dir.join(name);
            let temp = unique(dir, name, "tmp");
            fault(&format!("write {name}"))
                .and_then(|()| write_temp(&temp, text, &target))
                .map_err(error("write", &temp))?;
            temps.push(temp);
        }
        for (name, _) in replaced.iter().copied() {
            let target = dir.join(name);
            if fs::symlink_metadata(&target).is_ok() {
                let backup = unique(dir, name, "old");
                fault(&format!("keep {name}"))
                    .and_then(|()| keep(&target, &backup))
                    .map_err(error("keep a copy of", &target))?;
                backups.push((backup, target));
            }
        }
        for ((name, _), temp) in replaced.iter().copied().zip(&temps) {
            let target = dir.join(name);
            fault(&format!("rename {name}"))
                .and_then(|()| fs::rename(temp, &target))
                .map_err(error("replace", &target))?;
            installed.push(target);
        }
        // Make the renames durable before reporting success.
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            for (backup, _) in &backups {
                let _ = fs::remove_file(backup);
            }
            // Streams last: what they received cannot be taken back, so they get it only once
            // every file is in place.
            for (target, stream, text) in streams {
                stream
                    .write(&target, text)
                    .map_err(error("write to", &target))?;
            }
            Ok(())
        }
        Err(e) => {
            // Undo: new files out, old files back (a rename over the new one), temporaries gone.
            for target in &installed {
                match backups.iter().find(|(_, t)| t == target) {
                    Some((backup, _)) => {
                        let _ = fs::rename(backup, target);
                    }
                    None => {
                        let _ = fs::remove_file(target);
                    }
                }
            }
            for (backup, _) in &backups {
                let _ = fs::remove_file(backup);
            }
            for temp in &temps {
                let _ = fs::remove_file(temp);
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lwsplan-output-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn listing(dir: &Path) -> Vec<(String, String)> {
        let mut entries: Vec<(String, String)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, fs::read_to_string(&path).unwrap_or_default())
            })
            .collect();
        entries.sort();
        entries
    }

    fn files() -> Vec<(String, String)> {
        vec![
            ("a.yaml".into(), "new a\n".into()),
            ("b.yaml".into(), "new b\n".into()),
        ]
    }

    #[test]
    fn writes_every_file_and_replaces_old_ones() {
        let dir = dir("ok");
        fs::write(dir.join("a.yaml"), "old a\n").unwrap();
        write_all(&dir, &files()).unwrap();
        assert_eq!(listing(&dir), files());
    }

    /// Whatever step fails, the directory is left exactly as it was.
    #[test]
    fn a_failure_at_any_step_leaves_the_directory_as_it_was() {
        let steps = [
            "write a.yaml",
            "write b.yaml",
            "keep a.yaml",
            "keep b.yaml",
            "rename a.yaml",
            "rename b.yaml",
        ];
        for step in steps {
            let dir = dir(&step.replace(' ', "-"));
            fs::write(dir.join("a.yaml"), "old a\n").unwrap();
            fs::write(dir.join("b.yaml"), "old b\n").unwrap();
            fs::write(dir.join("other.txt"), "untouched\n").unwrap();
            let before = listing(&dir);
            let mut fault = |at: &str| {
                if at == step {
                    Err(io::Error::other("injected"))
                } else {
                    Ok(())
                }
            };
            let err = write_all_with(&dir, &files(), &mut fault).unwrap_err();
            assert_eq!(err.source.to_string(), "injected", "{step}");
            assert_eq!(listing(&dir), before, "after a failure at `{step}`");
        }
    }

    #[test]
    fn a_failure_into_an_empty_directory_leaves_it_empty() {
        let dir = dir("empty");
        let mut fault = |at: &str| {
            if at == "rename b.yaml" {
                Err(io::Error::other("injected"))
            } else {
                Ok(())
            }
        };
        write_all_with(&dir, &files(), &mut fault).unwrap_err();
        assert_eq!(listing(&dir), vec![]);
    }

    /// A symlink planted where a temporary could go, or at the target, is never written
    /// through: the link's target keeps its contents.
    #[cfg(unix)]
    #[test]
    fn planted_links_are_not_followed() {
        let dir = dir("links");
        let victim = dir.join("victim.txt");
        fs::write(&victim, "secret\n").unwrap();
        for i in 0..4 {
            let name = format!(".a.yaml{MARK}{}-{i}-0.tmp", std::process::id());
            std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        }
        std::os::unix::fs::symlink(&victim, dir.join("b.yaml")).unwrap();
        write_all(&dir, &files()[..1]).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "secret\n");
        assert_eq!(fs::read_to_string(dir.join("a.yaml")).unwrap(), "new a\n");
        // The link at a target is neither written through nor replaced: refused, kept, and
        // nothing else is written either.
        let err = write_all(&dir, &files()).unwrap_err();
        assert!(err.source.to_string().contains("symbolic link"), "{err:?}");
        assert!(
            fs::symlink_metadata(dir.join("b.yaml"))
                .unwrap()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "secret\n");
    }

    /// A link to a character device (`/dev/null` here; `/dev/stdout` in the integration
    /// suite) is written to, and survives.
    #[cfg(unix)]
    #[test]
    fn a_link_to_a_device_is_written_to_and_kept() {
        let dir = dir("device");
        std::os::unix::fs::symlink("/dev/null", dir.join("a.yaml")).unwrap();
        write_all(&dir, &files()).unwrap();
        assert!(
            fs::symlink_metadata(dir.join("a.yaml"))
                .unwrap()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(dir.join("b.yaml")).unwrap(), "new b\n");
    }

    #[cfg(unix)]
    #[test]
    fn dangling_links_and_links_to_directories_are_refused() {
        let dir = dir("dangling");
        std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("a.yaml")).unwrap();
        let err = write_all(&dir, &files()).unwrap_err();
        assert!(
            err.source.to_string().contains("link to nothing"),
            "{err:?}"
        );
        fs::remove_file(dir.join("a.yaml")).unwrap();
        std::os::unix::fs::symlink(std::env::temp_dir(), dir.join("a.yaml")).unwrap();
        let err = write_all(&dir, &files()).unwrap_err();
        assert!(err.source.to_string().contains("symbolic link"), "{err:?}");
        assert!(!dir.join("b.yaml").exists());
    }

    /// The temporary is created new at exactly the name it is given: a file or a link already
    /// there (another writer's, or one planted where the name was predicted) is an error, and
    /// is neither truncated nor written through.
    #[test]
    fn a_temporary_is_never_opened_over_an_existing_name() {
        let dir = dir("create-new");
        let temp = unique(&dir, "a.yaml", "tmp");
        fs::write(&temp, "someone else's\n").unwrap();
        let err = write_temp(&temp, "new a\n", &dir.join("a.yaml")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&temp).unwrap(), "someone else's\n");
        #[cfg(unix)]
        {
            let victim = dir.join("victim.txt");
            fs::write(&victim, "secret\n").unwrap();
            let planted = unique(&dir, "b.yaml", "tmp");
            std::os::unix::fs::symlink(&victim, &planted).unwrap();
            let err = write_temp(&planted, "new b\n", &dir.join("b.yaml")).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
            assert_eq!(fs::read_to_string(&victim).unwrap(), "secret\n");
            assert!(fs::symlink_metadata(&planted).unwrap().is_symlink());
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = dir("mode");
        fs::write(dir.join("a.yaml"), "old\n").unwrap();
        fs::set_permissions(dir.join("a.yaml"), fs::Permissions::from_mode(0o600)).unwrap();
        write_all(&dir, &files()).unwrap();
        let mode = fs::metadata(dir.join("a.yaml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_directory_at_the_target_is_refused_and_kept() {
        let dir = dir("isdir");
        fs::create_dir(dir.join("a.yaml")).unwrap();
        fs::write(dir.join("a.yaml/inside"), "x").unwrap();
        let err = write_all(&dir, &files()).unwrap_err();
        assert_eq!(err.action, "replace");
        assert!(dir.join("a.yaml/inside").exists());
        assert!(!dir.join("b.yaml").exists());
    }

    /// A FIFO stands in for a device node: never replaced.
    #[cfg(unix)]
    #[test]
    fn a_special_file_at_the_target_is_refused_and_kept() {
        use std::os::unix::fs::FileTypeExt;
        let dir = dir("fifo");
        let fifo = dir.join("a.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here: nothing to test with
        }
        let err = write_all(&dir, &files()).unwrap_err();
        assert_eq!(err.source.to_string(), "it is not a regular file");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert!(!dir.join("b.yaml").exists());
    }

    #[test]
    fn stale_temporaries_are_removed_fresh_ones_kept() {
        let dir = dir("stale");
        let stale = dir.join(format!(".a.yaml{MARK}1-0-0.tmp"));
        let fresh = dir.join(format!(".b.yaml{MARK}1-0-0.tmp"));
        fs::write(&stale, "").unwrap();
        fs::write(&fresh, "").unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        write_all(&dir, &files()).unwrap();
        assert!(!stale.exists());
        assert!(fresh.exists());
    }
}
