//! The bad-input corpus: every file under `tests/fixtures/bad/` goes through the real binary
//! and must fail with its exact message (snapshotted) and the documented exit status, never a
//! panic and never output on stdout. `insta::glob!` runs every case, so one failure does not
//! hide the others.
//!
//! - `bad/model/*`: `plan --model-file FILE --hardware h100-80gb`
//! - `bad/hardware/*`: `plan --model llama-3.1-8b-instruct --hardware-file FILE`
//! - `bad/deployment/*`: `render -f FILE`
//! - `bad/manifest/*`: `validate FILE`
//! - `bad/args/*.args`: the arguments themselves, one per line (`#` lines are comments,
//!   `$ROOT` is the repository)

use std::path::Path;
use std::process::Command;

/// Exit statuses (README): 3 invalid input, 4 infeasible, 5 validation failed, 6 I/O. Each
/// fixture's expected status is in a file beside it, `NAME.exit`, so a fixture and its
/// expectation are added, moved and reviewed together.
const STATUS_SUFFIX: &str = ".exit";

/// The status `NAME.exit` beside a fixture holds.
fn expected_status(fixture: &Path) -> i32 {
    let mut name = fixture.as_os_str().to_owned();
    name.push(STATUS_SUFFIX);
    let text = std::fs::read_to_string(&name)
        .unwrap_or_else(|e| panic!("{}: no expected status beside it: {e}", fixture.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}{STATUS_SUFFIX}: not a status: {e}", fixture.display()))
}

/// What every error of the binary must be, whatever the input (issue 21): in the project's
/// words (no YAML library advice), bounded, with a reason (never ending at "does not work."),
/// never quoting a file it was pointed at as a profile.
pub(crate) fn check_error_invariants(context: &str, stderr: &str) {
    assert!(
        stderr.len() < 8 << 10,
        "{context}: {} bytes of error",
        stderr.len()
    );
    for line in stderr.lines() {
        assert!(
            line.chars().count() <= 2001,
            "{context}: a line of {} characters",
            line.len()
        );
        // "does not work" is always followed by its reason (`: …`), never by a full stop.
        assert!(
            !line.contains("does not work.") && !line.trim_end().ends_with("does not work"),
            "{context}: a refusal without its reason: {line}"
        );
    }
    for internal in [
        "DuplicateKeyPolicy",
        "from_str_multiple",
        "budget breached",
        "Options if",
    ] {
        assert!(
            !stderr.contains(internal),
            "{context}: YAML library internals: {stderr}"
        );
    }
}

fn args(kind: &str, file: &str) -> Vec<String> {
    let file = file.to_string();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match kind {
        "model" => [
            v(&["plan", "--model-file"]),
            vec![file],
            v(&["--hardware", "h100-80gb"]),
        ]
        .concat(),
        "hardware" => [
            v(&[
                "plan",
                "--model",
                "llama-3.1-8b-instruct",
                "--hardware-file",
            ]),
            vec![file],
        ]
        .concat(),
        "deployment" => [v(&["render", "-f"]), vec![file]].concat(),
        "manifest" => [v(&["validate"]), vec![file]].concat(),
        "args" => std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.replace("$ROOT", crate::ROOT.as_str()))
            .collect(),
        other => panic!("unknown corpus folder {other}"),
    }
}

/// Every fixture has its status beside it, and every status file a fixture.
#[test]
fn every_bad_input_has_its_expected_status() {
    let root = Path::new(crate::ROOT.as_str());
    let bad = root.join("tests/fixtures/bad");
    let mut fixtures = 0;
    for kind in ["args", "deployment", "hardware", "manifest", "model"] {
        for entry in std::fs::read_dir(bad.join(kind)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            match name.strip_suffix(STATUS_SUFFIX) {
                Some(fixture) => assert!(
                    path.with_file_name(fixture).exists(),
                    "{kind}/{name}: a status for no fixture"
                ),
                None => {
                    assert!(
                        [2, 3, 4, 5, 6].contains(&expected_status(&path)),
                        "{kind}/{name}: not a documented failure status"
                    );
                    fixtures += 1;
                }
            }
        }
    }
    assert!(fixtures >= 100, "{fixtures} fixtures");
}

#[test]
fn every_bad_input_fails_cleanly() {
    let root = Path::new(crate::ROOT.as_str());
    let mut settings = crate::settings();
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::glob!("../fixtures/bad", "*/*.{yaml,args}", |path| {
            let kind = path
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap();
            let file = format!("{kind}/{}", path.file_name().unwrap().to_string_lossy());
            let status = expected_status(path);
            let args = args(kind, path.to_str().unwrap());
            let output = Command::new(env!("CARGO_BIN_EXE_lwsplan"))
                .args(&args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(status), "{file}: {stderr}");
            assert!(
                output.stdout.is_empty() || kind == "args",
                "{file}: stdout must stay empty"
            );
            assert!(!stderr.contains("panicked"), "{file}: {stderr}");
            check_error_invariants(&file, &stderr);
            let shown = format!("$ lwsplan {}\nexit {status}\n{stderr}", args.join(" "))
                .replace(root.to_str().unwrap(), "$ROOT");
            insta::assert_snapshot!("corpus", shown);
        });
    });
}
