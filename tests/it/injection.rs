//! No injection: arbitrary strings in every user-settable field either come out intact as the
//! value they were meant to be, or are refused with a clear error. Never a manifest that means
//! something else.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::Container;
use lwsplan::machinery::shell_quote;
use lwsplan::plan::Launcher;
use lwsplan::render::{EnvVar, RenderError};
use lwsplan::{Catalog, Manifests, Plan, PlanOptions, Planner, RenderOptions, Renderer};
use proptest::prelude::*;

fn plan(launcher: Launcher) -> &'static Plan {
    static NATIVE: OnceLock<Plan> = OnceLock::new();
    static RAY: OnceLock<Plan> = OnceLock::new();
    let cell = match launcher {
        Launcher::Native => &NATIVE,
        Launcher::Ray => &RAY,
    };
    cell.get_or_init(|| {
        let catalog = Catalog::builtin();
        Planner::new(
            catalog.model("deepseek-r1").unwrap(),
            catalog.hardware("h100-80gb").unwrap(),
        )
        .plan(&PlanOptions {
            launcher,
            ..PlanOptions::default()
        })
        .unwrap()
    })
}

/// Strings that try hard: YAML and Jinja syntax, quotes, newlines, anchors, unicode, long runs.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\"':#{}\\[\\]&*!|>%@`,?\\\\$() \\n\\t-]{0,40}",
        "(\\{\\{ ?[a-z_.]{1,12} ?\\}\\}|\\{% ?[a-z]{2,6} ?%\\}|&a1 |\\*a1|!!str |---\\n|\\.\\.\\.\\n|#|: |- ){1,6}",
        "[a-z0-9-]{1,63}",
        "[\\PC]{0,20}",
        ".{200,1200}",
    ]
}

/// Mostly valid names with hostile ones mixed in, so that most cases render.
fn mostly_valid(valid: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![3 => valid, 1 => hostile()]
}

fn containers(m: &Manifests) -> Vec<Container> {
    let t = &m.leader_worker_set.spec.leader_worker_template;
    let mut pods = vec![&t.worker_template];
    pods.extend(t.leader_template.as_ref());
    pods.iter()
        .flat_map(|p| p.spec.as_ref().unwrap().containers.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, .. ProptestConfig::default() })]

    #[test]
    fn every_user_string_is_kept_or_refused(
        name in mostly_valid("[a-z][a-z0-9-]{0,30}[a-z0-9]"),
        namespace in mostly_valid("[a-z0-9][a-z0-9-]{0,30}"),
        image in prop_oneof![3 => "[a-z0-9./:_@-]{1,60}", 1 => hostile()],
        model_source in hostile(),
        env_value in hostile(),
        label_key in mostly_valid("([a-z0-9.]{1,20}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,20}[A-Za-z0-9]"),
        label_value in mostly_valid("[A-Za-z0-9._-]{0,10}[A-Za-z0-9]"),
        annotation_value in hostile(),
        arg in hostile(),
    ) {
        let options = RenderOptions {
            name: name.clone(),
            namespace: Some(namespace.clone()),
            image: Some(image.clone()),
            model_source: Some(model_source.clone()),
            env: vec![EnvVar { name: "USER_VALUE".into(), value: env_value.clone() }],
            labels: BTreeMap::from([(label_key.clone(), label_value.clone())]),
            annotations: BTreeMap::from([("example.com/note".to_string(), annotation_value.clone())]),
            vllm_args: vec![arg.clone()],
            ..RenderOptions::default()
        };
        let manifests = match Renderer::new(options).and_then(|r| r.render(plan(Launcher::Native))) {
            Ok(m) => m,
            // Refused: it must say which option and why.
            Err(RenderError::Option { option, message }) => {
                prop_assert!(!message.is_empty(), "{option}");
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("unexpected refusal: {other}"))),
        };
        let lws = &manifests.leader_worker_set;
        prop_assert_eq!(lws.metadata.name.as_deref(), Some(name.as_str()));
        prop_assert_eq!(lws.metadata.namespace.as_deref(), Some(namespace.as_str()));
        prop_assert_eq!(&lws.metadata.labels.as_ref().unwrap()[&label_key], &label_value);
        prop_assert_eq!(&lws.metadata.annotations.as_ref().unwrap()["example.com/note"], &annotation_value);
        for container in containers(&manifests) {
            prop_assert_eq!(container.image.as_deref(), Some(image.as_str()));
            let env = container.env.unwrap();
            let user = env.iter().find(|e| e.name == "USER_VALUE").unwrap();
            prop_assert_eq!(user.value.as_deref(), Some(env_value.as_str()));
            let command = container.command.unwrap();
            // Exec form: the model is argv[2] and the extra argument one whole argv entry,
            // with Kubernetes' `$(VAR)` expansion escaped.
            prop_assert_eq!(&command[..2], &["vllm".to_string(), "serve".to_string()]);
            prop_assert_eq!(&command[2], &model_source.replace('$', "$$"));
            prop_assert!(command.contains(&arg.replace('$', "$$")));
        }
        // What is printed parses back to exactly these objects, and validates.
        let yaml = manifests.to_yaml().unwrap();
        let again = lwsplan::Manifests::from_yaml(&yaml)
            .map_err(|p| TestCaseError::fail(format!("{p:?}")))?;
        prop_assert_eq!(again, manifests);
    }
}

/// Kubernetes' expansion of commands (`third_party/forked/golang/expansion`): `$$` becomes
/// `$`, `$(VAR)` the variable's value; here no variable is set, so references stay as written.
fn kubernetes_expand(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek() == Some(&'$') {
            chars.next();
        }
        out.push(c);
    }
    out
}

fn run_sh(script: &str) -> Vec<String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|b| *b == 0)
        .map(|w| String::from_utf8(w.to_vec()).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    /// The Ray launcher joins arguments into one `sh -c` line: a shell must split it back into
    /// exactly the intended argv.
    #[test]
    fn shell_quoted_arguments_reach_vllm_intact(
        model in hostile().prop_filter("argv cannot hold NUL", |s| !s.contains('\0')),
        arg in hostile().prop_filter("argv cannot hold NUL", |s| !s.contains('\0')),
    ) {
        let options = RenderOptions {
            image: Some("registry.example.com/vllm-ray:v0.8.5".into()),
            model_source: Some(model.clone()),
            vllm_args: vec![arg.clone()],
            ..RenderOptions::default()
        };
        let manifests = Renderer::new(options).unwrap().render(plan(Launcher::Ray)).unwrap();
        let leader = manifests.leader_worker_set.spec.leader_worker_template.leader_template.unwrap();
        let command = leader.spec.unwrap().containers[0].command.clone().unwrap();
        prop_assert_eq!(&command[..2], &["sh".to_string(), "-c".to_string()]);
        let script = kubernetes_expand(&command[2]);
        let (_, server) = script.split_once("; ").unwrap();
        // Print the server's argv instead of running it.
        let argv = run_sh(&format!("printf '%s\\0' {server}"));
        let model_at = argv.iter().position(|w| w == "--model").unwrap();
        prop_assert_eq!(&argv[model_at + 1], &model);
        prop_assert_eq!(&argv[argv.len() - 2], &arg);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, .. ProptestConfig::default() })]

    /// Free-form fields (model, env values, annotations, extra args) never cause a refusal:
    /// whatever they hold, they render and come back intact.
    #[test]
    fn free_form_strings_always_render_intact(
        model_source in hostile(),
        env_value in hostile(),
        annotation_value in hostile(),
        arg in hostile(),
    ) {
        let options = RenderOptions {
            model_source: Some(model_source.clone()),
            env: vec![EnvVar { name: "USER_VALUE".into(), value: env_value.clone() }],
            annotations: BTreeMap::from([("example.com/note".to_string(), annotation_value.clone())]),
            vllm_args: vec![arg.clone()],
            ..RenderOptions::default()
        };
        let manifests = Renderer::new(options).unwrap().render(plan(Launcher::Native))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let annotations = manifests.leader_worker_set.metadata.annotations.clone().unwrap();
        prop_assert_eq!(&annotations["example.com/note"], &annotation_value);
        for container in containers(&manifests) {
            let env = container.env.unwrap();
            let user = env.iter().find(|e| e.name == "USER_VALUE").unwrap();
            prop_assert_eq!(user.value.as_deref(), Some(env_value.as_str()));
            let command = container.command.unwrap();
            prop_assert_eq!(&command[2], &model_source.replace('$', "$$"));
        }
        let again = lwsplan::Manifests::from_yaml(&manifests.to_yaml().unwrap())
            .map_err(|p| TestCaseError::fail(format!("{p:?}")))?;
        prop_assert_eq!(again, manifests);
    }
}

#[test]
fn shell_quote_round_trips_awkward_words() {
    for word in [
        "",
        "a b",
        "it's",
        "$(reboot)",
        "`id`",
        "a\nb",
        "\\",
        "'\"'",
        "*",
        "~root",
    ] {
        let argv = run_sh(&format!("printf '%s\\0' {}", shell_quote(word)));
        assert_eq!(argv, [word.to_string(), String::new()], "{word:?}");
    }
}
