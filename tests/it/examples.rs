//! Every deployment file in `examples/` plans, renders and validates; its output is
//! snapshotted. The committed JSON Schema is the one `lwsplan schema deployment` prints.

use std::path::{Path, PathBuf};

use lwsplan::Deployment;

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(crate::ROOT.as_str()).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "examples/ holds the guide's deployments and others"
    );
    files
}

#[test]
fn every_example_renders_valid_manifests() {
    crate::settings().bind(|| {
        for path in examples() {
            let deployment = Deployment::from_file(&path).unwrap();
            let (_, manifests) = deployment
                .render()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let yaml = manifests.to_yaml().unwrap();
            assert_eq!(
                lwsplan::validate::validate_yaml(&yaml),
                vec![],
                "{}",
                path.display()
            );
            let name = path.file_stem().unwrap().to_string_lossy();
            insta::assert_snapshot!(format!("example@{name}"), yaml);
        }
    });
}

#[test]
fn every_example_names_the_schema_for_editors() {
    for path in examples() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=deployment.schema.json\n"),
            "{}",
            path.display()
        );
    }
}

#[test]
fn the_committed_schema_is_current() {
    let committed = std::fs::read_to_string(
        Path::new(crate::ROOT.as_str()).join("examples/deployment.schema.json"),
    )
    .unwrap();
    let current = serde_json::to_string_pretty(&schemars::schema_for!(Deployment)).unwrap() + "\n";
    // Not assert_eq!: a diff of two 10,000-line schemas helps nobody.
    assert!(
        committed == current,
        "examples/deployment.schema.json is stale; regenerate it with: \
         cargo run -- schema deployment > examples/deployment.schema.json"
    );
}

#[test]
fn unknown_fields_in_a_deployment_name_line_and_column() {
    let text = "model: deepseek-r1\nhardware: h100-80gb\nrender:\n  nmae: x\n";
    let err = Deployment::from_yaml(text, "deploy.yaml").unwrap_err();
    let err = lwsplan::Report(&err).to_string();
    assert!(
        err.starts_with(
            "deploy.yaml: not a valid deployment file: line 4 column 3: unknown field `nmae`"
        ),
        "{err}"
    );
}

#[test]
fn a_profile_ref_takes_exactly_one_form() {
    let text = "model: {id: deepseek-r1, file: x.yaml}\nhardware: h100-80gb\n";
    let err = Deployment::from_yaml(text, "d.yaml").unwrap_err();
    let err = lwsplan::Report(&err).to_string();
    assert!(
        err.contains("give exactly one of `id`, `file` or `profile`"),
        "{err}"
    );
}

#[test]
fn every_example_validates_against_its_json_schema() {
    let schema = serde_json::to_value(schemars::schema_for!(Deployment)).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for path in examples() {
        let value: serde_json::Value =
            lwsplan::machinery::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}
