//! Writing manifests to a directory: every file or none.

use std::path::Path;

/// Writes each `(file name, contents)` into `dir`, creating it if needed. Files are first
/// written under temporary names and renamed into place only once all are written, so a
/// failure leaves no partial file behind.
pub fn write_all(dir: &Path, files: &[(String, String)]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut written: Vec<(std::path::PathBuf, std::path::PathBuf)> = Vec::new();
    let result = (|| {
        for (name, text) in files {
            let target = dir.join(name);
            let temp = dir.join(format!(".{name}.lwsplan-tmp"));
            std::fs::write(&temp, text)
                .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
            written.push((temp, target));
        }
        Ok(())
    })();
    if let Err(e) = result {
        for (temp, _) in &written {
            let _ = std::fs::remove_file(temp);
        }
        return Err(e);
    }
    for (temp, target) in &written {
        std::fs::rename(temp, target).map_err(|e| {
            format!(
                "cannot rename {} to {}: {e}",
                temp.display(),
                target.display()
            )
        })?;
    }
    Ok(())
}
