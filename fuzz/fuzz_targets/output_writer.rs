//! The `-o` writer with arbitrary file names and contents, into a directory that may already
//! hold some of them: afterwards the directory holds every new file or exactly what it held
//! before, and no temporary is left behind.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fn listing(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap_or_default())
        })
        .collect()
}

fuzz_target!(|data: (Vec<(String, String)>, Vec<(String, String)>)| {
    let (existing, files) = data;
    let dir = std::env::temp_dir().join(format!("lwsplan-fuzz-writer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Only plain names: the writer's callers pass file names, not paths.
    let plain = |name: &String| {
        !name.is_empty()
            && !name.contains(['/', '\0'])
            && name != "."
            && name != ".."
            && !name.starts_with('.')
    };
    for (name, text) in existing.iter().filter(|(n, _)| plain(n)) {
        let _ = std::fs::write(dir.join(name), text);
    }
    let before = listing(&dir);
    let files: Vec<(String, String)> = files.into_iter().filter(|(n, _)| plain(n)).collect();
    let mut unique = files.clone();
    unique.sort();
    unique.dedup_by(|a, b| a.0 == b.0);
    match lwsplan::machinery::write_all(&dir, &unique) {
        Ok(()) => {
            let after = listing(&dir);
            for (name, text) in &unique {
                assert_eq!(after.get(name), Some(&text.as_bytes().to_vec()), "{name}");
            }
            // The inputs never start with a dot; a leftover temporary or backup would.
            assert!(after.keys().all(|k| !k.starts_with('.')), "{after:?}");
        }
        Err(_) => assert_eq!(listing(&dir), before),
    }
    let _ = std::fs::remove_dir_all(&dir);
});
