//! No injection: arbitrary strings in every user-settable field either come out intact as the
//! value they were meant to be, or are refused with a clear error. Never a manifest that means
//! something else.

use lwsplan::OptionName;
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

/// The oracle: what Kubernetes, LWS and lwsplan accept, written here from their rules (not
/// from lwsplan's code), so that refusing too much fails as surely as accepting too much.
mod oracle {
    fn label(s: &str, max: usize, letter_first: bool) -> bool {
        let first_ok = |c: char| c.is_ascii_lowercase() || (!letter_first && c.is_ascii_digit());
        !s.is_empty()
            && s.len() <= max
            && s.starts_with(first_ok)
            && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }

    /// DNS-1035 label within LWS's 51 characters for one replica.
    pub fn name(s: &str) -> bool {
        label(s, 51, true)
    }

    /// DNS-1123 label.
    pub fn namespace(s: &str) -> bool {
        label(s, 63, false)
    }

    /// Refused only when no substitution could make it an image: empty, spaces, controls.
    pub fn image(s: &str) -> bool {
        !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
    }

    /// An argument of `vllm serve`: no control characters.
    pub fn argument(s: &str) -> bool {
        !s.is_empty() && !s.chars().any(char::is_control)
    }

    fn label_value(v: &str) -> bool {
        v.is_empty()
            || (v.len() <= 63
                && v.starts_with(|c: char| c.is_ascii_alphanumeric())
                && v.ends_with(|c: char| c.is_ascii_alphanumeric())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    }

    /// A qualified key and a label value, and not a key lwsplan or LWS sets.
    pub fn label_pair(key: &str, value: &str) -> bool {
        let (prefix, name) = match key.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key),
        };
        let prefix_ok = prefix.is_none_or(|p| {
            !p.is_empty() && p.len() <= 253 && p.split('.').all(|part| label(part, 63, false))
        });
        let reserved = matches!(
            key,
            "role" | "app.kubernetes.io/name" | "app.kubernetes.io/managed-by"
        ) || key.starts_with("lwsplan/")
            || key.starts_with("leaderworkerset.sigs.k8s.io/");
        prefix_ok && !name.is_empty() && label_value(name) && label_value(value) && !reserved
    }

    /// Flags lwsplan plans (or that change memory it does not model), in vLLM's spellings.
    const PLANNED: &[&str] = &[
        "tensor-parallel-size",
        "tp",
        "pipeline-parallel-size",
        "pp",
        "max-model-len",
        "gpu-memory-utilization",
        "kv-cache-dtype",
        "enable-expert-parallel",
        "ep",
        "port",
        "nnodes",
        "node-rank",
        "master-addr",
        "master-port",
        "headless",
        "data-parallel-size",
        "dp",
        "distributed-executor-backend",
        "model",
        "quantization",
        "q",
        "dtype",
        "kv-cache-memory",
        "cpu-offload-gb",
        "speculative-config",
        "kv-cache-memory-bytes",
        "num-gpu-blocks-override",
    ];

    /// An extra argument is refused when it is a flag lwsplan plans.
    pub fn extra_argument(s: &str) -> bool {
        if !argument(s) {
            return false;
        }
        let Some(flag) = s.strip_prefix('-') else {
            return true;
        };
        let long = flag.starts_with('-');
        let flag = flag.strip_prefix('-').unwrap_or(flag);
        let flag = flag.split('=').next().unwrap_or_default().replace('_', "-");
        // vLLM's parser reads any unambiguous start of a long flag as the flag (argparse's
        // allow_abbrev): the start of a planned one is refused like the flag itself.
        let abbreviates = |planned: &&str| planned.len() > flag.len() && planned.starts_with(&flag);
        let abbreviation = long && !flag.is_empty() && PLANNED.iter().any(abbreviates);
        !(PLANNED.contains(&flag.as_str()) || abbreviation)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, .. ProptestConfig::default() })]

    /// Each field is valid or not by the oracle: a valid set renders with every value intact,
    /// an invalid one is refused naming an invalid field's option.
    #[test]
    fn every_user_string_is_kept_or_refused_as_the_rules_say(
        name in mostly_valid("[a-z][a-z0-9-]{0,52}[a-z0-9]"),
        namespace in mostly_valid("[a-z0-9][a-z0-9-]{0,64}"),
        image in prop_oneof![3 => "[a-z0-9./:_@-]{1,60}", 1 => hostile()],
        model_source in hostile(),
        env_value in hostile(),
        label_key in mostly_valid("([a-z0-9.]{1,20}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,20}[A-Za-z0-9]|role|lwsplan/x"),
        label_value in mostly_valid("[A-Za-z0-9._-]{0,10}[A-Za-z0-9]"),
        annotation_value in hostile(),
        arg in prop_oneof![3 => hostile(), 1 => "--?(tensor|pipeline)[-_]parallel[-_]size(=[0-9])?|-tp|--port=80|--enable-prefix-caching"],
    ) {
        let options = RenderOptions {
            name: name.clone(),
            namespace: Some(namespace.clone()),
            image: Some(image.clone()),
            model_source: Some(model_source.clone()),
            env: vec![EnvVar { name: "USER_VALUE".into(), value: env_value.clone(), expand: false }],
            labels: BTreeMap::from([(label_key.clone(), label_value.clone())]),
            annotations: BTreeMap::from([("example.com/note".to_string(), annotation_value.clone())]),
            vllm_args: vec![arg.clone()],
            ..RenderOptions::default()
        };
        let invalid: Vec<OptionName> = [
            (oracle::name(&name), OptionName::Name),
            (oracle::namespace(&namespace), OptionName::Namespace),
            (oracle::image(&image), OptionName::Image),
            (oracle::argument(&model_source), OptionName::ModelSource),
            (oracle::label_pair(&label_key, &label_value), OptionName::Labels),
            (oracle::extra_argument(&arg), OptionName::VllmArgs),
        ]
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, option)| option)
        .collect();
        let result = Renderer::new(options).and_then(|r| r.render(plan(Launcher::Native)));
        let manifests = match (result, invalid.is_empty()) {
            (Ok(m), true) => m,
            (Err(RenderError::Option { option, message }), false) => {
                prop_assert!(!message.is_empty(), "{}", option);
                prop_assert!(invalid.contains(&option), "refused {} ({}), but the invalid fields are {:?}", option, message, invalid);
                return Ok(());
            }
            (Ok(_), false) => return Err(TestCaseError::fail(format!("rendered, though {invalid:?} are invalid"))),
            (Err(e), _) => return Err(TestCaseError::fail(format!("refused valid input: {}", lwsplan::Report(&e)))),
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
            // A literal value: every `$` doubled, so Kubernetes expands nothing.
            prop_assert_eq!(user.value.clone(), Some(env_value.replace('$', "$$")));
            let command = container.command.unwrap();
            // Exec form: the model is argv[2] and the extra argument one whole argv entry,
            // with Kubernetes' `$(VAR)` expansion escaped.
            prop_assert_eq!(&command[..2], &["vllm".to_string(), "serve".to_string()]);
            prop_assert_eq!(&command[2], &model_source.replace('$', "$$"));
            prop_assert!(command.contains(&arg.replace('$', "$$")));
        }
        // What is printed parses back to exactly these objects, and validates.
        let yaml = manifests.to_yaml().unwrap();
        let again = lwsplan::validate::parse_manifests(&yaml)
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

    /// The Ray launcher joins arguments into one `sh -c` line, in both bootstraps: a shell must
    /// split it back into exactly the intended argv.
    #[test]
    fn shell_quoted_arguments_reach_vllm_intact(
        model in hostile().prop_filter("an argument", |s| oracle::argument(s)),
        arg in hostile().prop_filter("not a planned flag", |s| oracle::extra_argument(s)),
        script in any::<bool>(),
    ) {
        use lwsplan::render::RayBootstrap;
        let options = RenderOptions {
            image: script.then(|| "registry.example.com/vllm-ray:v0.8.5".into()),
            ray_bootstrap: if script { RayBootstrap::Script } else { RayBootstrap::Inline },
            model_source: Some(model.clone()),
            vllm_args: vec![arg.clone()],
            ..RenderOptions::default()
        };
        let manifests = Renderer::new(options).unwrap().render(plan(Launcher::Ray)).unwrap();
        let leader = manifests.leader_worker_set.spec.leader_worker_template.leader_template.unwrap();
        let command = leader.spec.unwrap().containers[0].command.clone().unwrap();
        prop_assert_eq!(&command[..2], &["sh".to_string(), "-c".to_string()]);
        let script_text = kubernetes_expand(&command[2]);
        // The server's command: after the bootstrap's `;` or `exec`.
        let server = match script_text.split_once("&& exec ") {
            Some((_, server)) => server.to_string(),
            None => script_text.split_once("; ").unwrap().1.to_string(),
        };
        // Print the server's argv instead of running it.
        let argv = run_sh(&format!("printf '%s\\0' {server}"));
        let model_at = if script {
            argv.iter().position(|w| w == "--model").unwrap() + 1
        } else {
            argv.iter().position(|w| w == "serve").unwrap() + 1
        };
        prop_assert_eq!(&argv[model_at], &model);
        prop_assert_eq!(&argv[argv.len() - 2], &arg);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, .. ProptestConfig::default() })]

    /// Free-form fields (model, env values, annotations, extra arguments that are not planned
    /// flags) never cause a refusal: whatever they hold, they render and come back intact.
    #[test]
    fn free_form_strings_always_render_intact(
        model_source in hostile().prop_filter("an argument", |s| oracle::argument(s)),
        env_value in hostile(),
        annotation_value in hostile(),
        arg in hostile().prop_filter("not a planned flag", |s| oracle::extra_argument(s)),
    ) {
        let options = RenderOptions {
            model_source: Some(model_source.clone()),
            env: vec![EnvVar { name: "USER_VALUE".into(), value: env_value.clone(), expand: false }],
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
            prop_assert_eq!(user.value.clone(), Some(env_value.replace('$', "$$")));
            let command = container.command.unwrap();
            prop_assert_eq!(&command[2], &model_source.replace('$', "$$"));
        }
        let again = lwsplan::validate::parse_manifests(&manifests.to_yaml().unwrap())
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
