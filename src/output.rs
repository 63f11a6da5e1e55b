//! Writing manifests to a directory: every file or none.

use std::io;
use std::path::{Path, PathBuf};

/// Writes each `(file name, contents)` into `dir`, creating it if needed. All files are first
/// written under temporary names, existing files are set aside, and only then is each renamed
/// into place; if any step fails, the directory is put back as it was.
pub fn write_all(dir: &Path, files: &[(String, String)]) -> Result<(), String> {
    write_all_with(dir, files, &mut |_| Ok(()))
}

/// Temporary and backup names sit beside their target, hidden, so a rename never crosses a
/// filesystem.
fn aside(dir: &Path, name: &str, what: &str) -> PathBuf {
    dir.join(format!(".{name}.lwsplan-{what}"))
}

/// [`write_all`], calling `fault` before each filesystem step so tests can make any step fail.
fn write_all_with(
    dir: &Path,
    files: &[(String, String)],
    fault: &mut dyn FnMut(&str) -> io::Result<()>,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut temps: Vec<PathBuf> = Vec::new();
    let mut backups: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut installed: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), String> {
        for (name, text) in files {
            let temp = aside(dir, name, "tmp");
            fault(&format!("write {name}"))
                .and_then(|()| std::fs::write(&temp, text))
                .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
            temps.push(temp);
        }
        for (name, _) in files {
            let target = dir.join(name);
            if target.exists() {
                let backup = aside(dir, name, "old");
                fault(&format!("set aside {name}"))
                    .and_then(|()| std::fs::rename(&target, &backup))
                    .map_err(|e| format!("cannot set aside {}: {e}", target.display()))?;
                backups.push((backup, target));
            }
        }
        for ((name, _), temp) in files.iter().zip(&temps) {
            let target = dir.join(name);
            fault(&format!("rename {name}"))
                .and_then(|()| std::fs::rename(temp, &target))
                .map_err(|e| {
                    format!(
                        "cannot rename {} to {}: {e}",
                        temp.display(),
                        target.display()
                    )
                })?;
            installed.push(target);
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            for (backup, _) in &backups {
                let _ = std::fs::remove_file(backup);
            }
            Ok(())
        }
        Err(e) => {
            // Undo in reverse: new files out, old files back, temporaries gone.
            for target in &installed {
                let _ = std::fs::remove_file(target);
            }
            for (backup, target) in &backups {
                let _ = std::fs::rename(backup, target);
            }
            for temp in &temps {
                let _ = std::fs::remove_file(temp);
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
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn listing(dir: &Path) -> Vec<(String, String)> {
        let mut entries: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&path).unwrap())
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
        std::fs::write(dir.join("a.yaml"), "old a\n").unwrap();
        write_all(&dir, &files()).unwrap();
        assert_eq!(listing(&dir), files());
    }

    /// Whatever step fails, the directory is left exactly as it was.
    #[test]
    fn a_failure_at_any_step_leaves_the_directory_as_it_was() {
        let steps = [
            "write a.yaml",
            "write b.yaml",
            "set aside a.yaml",
            "set aside b.yaml",
            "rename a.yaml",
            "rename b.yaml",
        ];
        for step in steps {
            let dir = dir(&step.replace(' ', "-"));
            std::fs::write(dir.join("a.yaml"), "old a\n").unwrap();
            std::fs::write(dir.join("b.yaml"), "old b\n").unwrap();
            std::fs::write(dir.join("other.txt"), "untouched\n").unwrap();
            let before = listing(&dir);
            let mut fault = |at: &str| {
                if at == step {
                    Err(io::Error::other("injected"))
                } else {
                    Ok(())
                }
            };
            let err = write_all_with(&dir, &files(), &mut fault).unwrap_err();
            assert!(err.ends_with("injected"), "{step}: {err}");
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
}
