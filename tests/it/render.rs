//! Rendering options, template overrides and template errors.

use std::path::PathBuf;

use lwsplan::render::RenderError;
use lwsplan::{Catalog, Plan, PlanOptions, Planner, RenderOptions, Renderer};

fn plan(model: &str, hardware: &str) -> Plan {
    let catalog = Catalog::builtin();
    Planner::new(
        catalog.model(model).unwrap(),
        catalog.hardware(hardware).unwrap(),
    )
    .plan(&PlanOptions::default())
    .unwrap()
}

fn templates_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

#[test]
fn a_template_in_the_override_directory_replaces_the_builtin() {
    let builtin = include_str!("../../templates/service.yaml.j2");
    let custom = builtin.replace("type: ClusterIP", "type: NodePort");
    let dir = templates_dir("override", &[("service.yaml.j2", &custom)]);
    let options = RenderOptions {
        templates: Some(dir),
        ..RenderOptions::default()
    };
    let manifests = Renderer::new(options)
        .unwrap()
        .render(&plan("llama-3.1-8b-instruct", "h100-80gb"))
        .unwrap();
    let spec = manifests.service.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
}

#[test]
fn a_misspelt_override_is_refused() {
    let dir = templates_dir("misspelt", &[("services.yaml.j2", "")]);
    let err = Renderer::new(RenderOptions {
        templates: Some(dir),
        ..RenderOptions::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "services.yaml.j2 overrides no template; the templates are leaderworkerset.yaml.j2, service.yaml.j2"
        ),
        "{err}"
    );
    assert_eq!(err.kind(), lwsplan::ErrorKind::InvalidInput);
}

#[test]
fn an_undefined_variable_names_the_template_and_line() {
    let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ nmae }}\n";
    let dir = templates_dir("undefined", &[("service.yaml.j2", text)]);
    let renderer = Renderer::new(RenderOptions {
        templates: Some(dir),
        ..RenderOptions::default()
    })
    .unwrap();
    let err = renderer
        .render(&plan("llama-3.1-8b-instruct", "h100-80gb"))
        .unwrap_err();
    match &err {
        RenderError::Template { template, line, .. } => {
            assert_eq!((template.as_str(), *line), ("service.yaml.j2", Some(4)));
        }
        other => panic!("expected a template error, got {other:?}"),
    }
    assert_eq!(err.to_string(), "template service.yaml.j2 line 4");
    // The chain keeps minijinja's own message and its excerpt of the template.
    let report = lwsplan::Report(&err).to_string();
    assert!(
        report.starts_with("template service.yaml.j2 line 4: undefined value: `nmae` is undefined"),
        "{report}"
    );
    assert!(report.contains("4 >   name: {{ nmae }}"), "{report}");
}

#[test]
fn an_override_that_breaks_the_schema_is_caught_before_output() {
    let builtin = include_str!("../../templates/leaderworkerset.yaml.j2");
    let broken = builtin.replace("    size: {{ size }}", "    size: {{ size }}\n    sise: 3");
    let dir = templates_dir("schema-break", &[("leaderworkerset.yaml.j2", &broken)]);
    let err = Renderer::new(RenderOptions {
        templates: Some(dir),
        ..RenderOptions::default()
    })
    .unwrap()
    .render(&plan("deepseek-r1", "h100-80gb"))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the rendered manifests are invalid:\n  document 1 (LeaderWorkerSet/vllm): \
         spec.leaderWorkerTemplate.sise: unknown field: the LeaderWorkerSet CRD does not define it"
    );
}

/// User strings stay values: quotes, colons, newlines and `$(…)` come out intact.
#[test]
fn user_strings_cannot_change_the_structure() {
    let hostile = "a: b\n- c: \"d\" # e {{ f }} $(HOME)";
    // An argument of vllm serve holds no line break; everything else still tries.
    let argument = "a: b - c: \"d\" # e {{ f }} $(HOME)";
    let options = RenderOptions {
        env: vec![lwsplan::render::EnvVar {
            name: "WEIRD".into(),
            value: hostile.into(),
            expand: false,
        }],
        vllm_args: vec!["--served-model-name".into(), argument.into()],
        labels: [("team".to_string(), "yes".to_string())].into(),
        ..RenderOptions::default()
    };
    let manifests = Renderer::new(options)
        .unwrap()
        .render(&plan("llama-3.1-8b-instruct", "h100-80gb"))
        .unwrap();
    let leader = manifests
        .leader_worker_set
        .spec
        .leader_worker_template
        .leader_template
        .clone()
        .unwrap();
    let container = &leader.spec.unwrap().containers[0];
    let env = container.env.as_ref().unwrap();
    let weird = env.iter().find(|e| e.name == "WEIRD").unwrap();
    // Kubernetes would expand $(HOME) in env values and commands: it is escaped as $$(HOME).
    assert_eq!(
        weird.value.as_deref(),
        Some(hostile.replace('$', "$$").as_str())
    );
    let command = container.command.as_ref().unwrap();
    assert_eq!(command.last().unwrap(), &argument.replace('$', "$$"));
    let labels = leader.metadata.unwrap().labels.unwrap();
    assert_eq!(
        labels["team"], "yes",
        "a YAML 1.1 boolean spelling stays a string"
    );
    // And the YAML written out parses back to the same objects.
    let yaml = manifests.to_yaml().unwrap();
    assert_eq!(lwsplan::validate::validate_yaml(&yaml), vec![]);
}

#[test]
fn nvidia_platform_selects_by_gpu_product() {
    let options = RenderOptions {
        platform: lwsplan::render::Platform::Nvidia,
        ..RenderOptions::default()
    };
    let manifests = Renderer::new(options)
        .unwrap()
        .render(&plan("deepseek-r1", "h100-80gb"))
        .unwrap();
    let template = &manifests.leader_worker_set.spec.leader_worker_template;
    for pod in [
        template.leader_template.as_ref().unwrap(),
        &template.worker_template,
    ] {
        let selector = pod.spec.as_ref().unwrap().node_selector.as_ref().unwrap();
        assert_eq!(selector["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3");
    }
}

#[test]
fn typed_manifests_can_be_changed_and_revalidated() {
    let mut manifests = Renderer::new(RenderOptions::default())
        .unwrap()
        .render(&plan("deepseek-r1", "h100-80gb"))
        .unwrap();
    let worker = &mut manifests
        .leader_worker_set
        .spec
        .leader_worker_template
        .worker_template;
    worker.spec.as_mut().unwrap().node_selector = None;
    let problems = lwsplan::validate::validate(&manifests);
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].path,
        "spec.leaderWorkerTemplate.workerTemplate.spec.nodeSelector"
    );
}

#[test]
fn capabilities_are_added_only_when_asked() {
    let plain = Renderer::new(RenderOptions::default())
        .unwrap()
        .render(&plan("deepseek-r1", "h100-80gb"))
        .unwrap();
    let yaml = plain.to_yaml().unwrap();
    assert!(!yaml.contains("capabilities"), "no capabilities by default");
    assert!(!yaml.contains("privileged") && !yaml.contains("hostPath"));
    let rdma = Renderer::new(RenderOptions {
        capabilities: vec!["IPC_LOCK".into()],
        ..RenderOptions::default()
    })
    .unwrap()
    .render(&plan("deepseek-r1", "h100-80gb"))
    .unwrap();
    let template = &rdma.leader_worker_set.spec.leader_worker_template;
    for pod in [
        template.leader_template.as_ref().unwrap(),
        &template.worker_template,
    ] {
        let container = &pod.spec.as_ref().unwrap().containers[0];
        let add = container
            .security_context
            .as_ref()
            .unwrap()
            .capabilities
            .as_ref()
            .unwrap()
            .add
            .clone();
        assert_eq!(add, Some(vec!["IPC_LOCK".to_string()]));
    }
}

#[test]
fn rdma_adds_its_resource_capability_and_nccl_settings() {
    let options = RenderOptions {
        network: lwsplan::render::Network {
            socket_ifname: Some("eth1".into()),
            rdma: Some(lwsplan::render::Rdma {
                resource: "rdma/rdma_shared_device_a".into(),
                count: 1,
                ib_hca: Some("mlx5".into()),
            }),
        },
        ..RenderOptions::default()
    };
    let manifests = Renderer::new(options)
        .unwrap()
        .render(&plan("deepseek-r1", "h100-80gb"))
        .unwrap();
    let worker = &manifests
        .leader_worker_set
        .spec
        .leader_worker_template
        .worker_template;
    let container = &worker.spec.as_ref().unwrap().containers[0];
    let limits = container
        .resources
        .as_ref()
        .unwrap()
        .limits
        .as_ref()
        .unwrap();
    assert_eq!(limits["nvidia.com/gpu"].0, "8");
    assert_eq!(limits["rdma/rdma_shared_device_a"].0, "1");
    let env: Vec<(String, String)> = container
        .env
        .as_ref()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect();
    for wanted in [
        ("NCCL_SOCKET_IFNAME", "eth1"),
        ("GLOO_SOCKET_IFNAME", "eth1"),
        ("NCCL_IB_DISABLE", "0"),
        ("NCCL_IB_HCA", "mlx5"),
    ] {
        assert!(
            env.contains(&(wanted.0.into(), wanted.1.into())),
            "{wanted:?} in {env:?}"
        );
    }
    let caps = container
        .security_context
        .as_ref()
        .unwrap()
        .capabilities
        .as_ref()
        .unwrap();
    assert_eq!(caps.add, Some(vec!["IPC_LOCK".to_string()]));
}

#[test]
fn model_cache_mounts_a_volume_and_points_hf_home_at_it() {
    use lwsplan::render::ModelCache;
    let render = |cache: ModelCache| {
        Renderer::new(RenderOptions {
            model_cache: cache,
            ..RenderOptions::default()
        })
        .unwrap()
        .render(&plan("deepseek-r1", "h100-80gb"))
        .unwrap()
    };
    let per_pod = render(ModelCache::PerPod {
        storage_class: Some("premium-rwo".into()),
        size: None,
    });
    let template = &per_pod.leader_worker_set.spec.leader_worker_template;
    let claims = template.volume_claim_templates.as_ref().unwrap();
    let spec = claims[0].spec.as_ref().unwrap();
    // 626.92 GiB of weights + 10 % + 10 GiB, rounded up to a GiB.
    assert_eq!(
        spec.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "700Gi"
    );
    assert_eq!(spec.storage_class_name.as_deref(), Some("premium-rwo"));
    for pod in [
        template.leader_template.as_ref().unwrap(),
        &template.worker_template,
    ] {
        let container = &pod.spec.as_ref().unwrap().containers[0];
        let mounts = container.volume_mounts.as_ref().unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| m.name == "model-cache" && m.mount_path == "/models")
        );
        let env = container.env.as_ref().unwrap();
        assert!(
            env.iter()
                .any(|e| e.name == "HF_HOME" && e.value.as_deref() == Some("/models"))
        );
    }
    let cold = Renderer::new(RenderOptions::default()).unwrap();
    let warm = Renderer::new(RenderOptions {
        model_cache: ModelCache::Pvc {
            claim_name: "weights".into(),
            warm: true,
        },
        ..RenderOptions::default()
    })
    .unwrap();
    let p = plan("deepseek-r1", "h100-80gb");
    assert!(warm.startup_seconds(&p) < cold.startup_seconds(&p));
    let pvc = warm.render(&p).unwrap();
    let volumes = pvc
        .leader_worker_set
        .spec
        .leader_worker_template
        .worker_template
        .spec
        .unwrap()
        .volumes
        .unwrap();
    let cache = volumes.iter().find(|v| v.name == "model-cache").unwrap();
    assert_eq!(
        cache.persistent_volume_claim.as_ref().unwrap().claim_name,
        "weights"
    );
}

/// The plan is made for one vLLM release; the image must run it, and the release decides what
/// is rendered and what is refused.
#[test]
fn the_vllm_release_decides_what_is_rendered() {
    use lwsplan::plan::Launcher::{Native, Ray};
    use lwsplan::plan::VllmVersion;
    let render =
        |image: Option<&str>, version: Option<&str>, launcher, extra: fn(&mut RenderOptions)| {
            let catalog = Catalog::builtin();
            let plan = Planner::new(
                catalog.model("deepseek-r1").unwrap(),
                catalog.hardware("h100-80gb").unwrap(),
            )
            .plan(&PlanOptions {
                launcher,
                vllm_version: version.map(|v| v.parse::<VllmVersion>().unwrap()),
                ..PlanOptions::default()
            })
            .unwrap();
            let mut options = RenderOptions {
                image: image.map(str::to_string),
                ..RenderOptions::default()
            };
            extra(&mut options);
            Renderer::new(options).unwrap().render(&plan)
        };
    let report = |e: lwsplan::RenderError| lwsplan::Report(&e).to_string();
    // The default image is the official one of the plan's release.
    let default = render(None, None, Native, |_| {}).unwrap();
    let image = |m: &lwsplan::Manifests| {
        m.leader_worker_set
            .spec
            .leader_worker_template
            .worker_template
            .spec
            .clone()
            .unwrap()
            .containers[0]
            .image
            .clone()
            .unwrap()
    };
    assert_eq!(image(&default), "vllm/vllm-openai:v0.28.0");
    assert_eq!(
        image(&render(None, Some("0.25.1"), Native, |_| {}).unwrap()),
        "vllm/vllm-openai:v0.25.1"
    );
    // An official image of another release than the plan's is refused: its memory differs.
    let mismatch =
        report(render(Some("vllm/vllm-openai:v0.25.0"), None, Native, |_| {}).unwrap_err());
    assert!(
        mismatch.contains("runs vLLM 0.25.0, but the plan is for 0.28.0"),
        "{mismatch}"
    );
    // Native multi-node needs a vLLM with --nnodes/--headless.
    let old = report(
        render(
            Some("vllm/vllm-openai:v0.10.1"),
            Some("0.10.1"),
            Native,
            |_| {},
        )
        .unwrap_err(),
    );
    assert!(
        old.starts_with("image: vLLM 0.10.1 has no native multi-node serving"),
        "{old}"
    );
    // A custom image says its release with the plan's --vllm-version.
    let custom = report(
        render(
            Some("example.com/vllm:build-7"),
            Some("0.11.0"),
            Native,
            |_| {},
        )
        .unwrap_err(),
    );
    assert!(
        custom.contains("vLLM 0.11.0 has no native multi-node serving"),
        "{custom}"
    );
    // The Ray launcher without an image: the newest official image with Ray, formed inline.
    let ray = render(None, None, Ray, |_| {}).unwrap();
    assert_eq!(image(&ray), "vllm/vllm-openai:v0.17.1");
    // The official image lost Ray in 0.18.0: refused unless the image is said to carry it.
    let no_ray = report(
        render(
            Some("vllm/vllm-openai:v0.20.0"),
            Some("0.20.0"),
            Ray,
            |_| {},
        )
        .unwrap_err(),
    );
    assert!(
        no_ray.contains("the official vLLM image has no Ray from 0.18.0 on"),
        "{no_ray}"
    );
    assert!(
        render(Some("vllm/vllm-openai:v0.20.0"), Some("0.20.0"), Ray, |o| {
            o.image_has_ray = true
        })
        .is_ok()
    );
    // The guide's script bootstrap needs its custom image.
    let script = report(
        render(None, None, Ray, |o| {
            o.ray_bootstrap = lwsplan::render::RayBootstrap::Script
        })
        .unwrap_err(),
    );
    assert!(
        script.contains("needs an image with /vllm-workspace/ray_init.sh"),
        "{script}"
    );
    // VLLM_ENGINE_READY_TIMEOUT_S is left out where vLLM does not read it.
    let env_names = |m: lwsplan::Manifests| -> Vec<String> {
        m.leader_worker_set
            .spec
            .leader_worker_template
            .worker_template
            .spec
            .unwrap()
            .containers[0]
            .env
            .clone()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    let older = render(None, Some("0.14.0"), Native, |_| {}).unwrap();
    assert!(!env_names(older).contains(&"VLLM_ENGINE_READY_TIMEOUT_S".to_string()));
    assert!(env_names(default).contains(&"VLLM_ENGINE_READY_TIMEOUT_S".to_string()));
}

/// The inline Ray bootstrap, run by `sh` with `ray` and `python3` stubbed: the leader waits
/// until the group's pods joined, then execs `vllm serve` with the Ray executor and exactly
/// the planned arguments; the worker retries joining.
#[test]
fn the_inline_ray_bootstrap_waits_for_the_group_then_serves() {
    let catalog = Catalog::builtin();
    let plan = Planner::new(
        catalog.model("deepseek-r1").unwrap(),
        catalog.hardware("h100-80gb").unwrap(),
    )
    .plan(&PlanOptions {
        launcher: lwsplan::plan::Launcher::Ray,
        ..PlanOptions::default()
    })
    .unwrap();
    let manifests = Renderer::new(RenderOptions::default())
        .unwrap()
        .render(&plan)
        .unwrap();
    let template = &manifests.leader_worker_set.spec.leader_worker_template;
    let command = |t: &k8s_openapi::api::core::v1::PodTemplateSpec| {
        t.spec.as_ref().unwrap().containers[0]
            .command
            .clone()
            .unwrap()
    };
    let leader = command(template.leader_template.as_ref().unwrap());
    let worker = command(&template.worker_template);
    assert_eq!(&leader[..2], ["sh", "-c"]);
    // Kubernetes substitutes $(VAR) and turns $$ into $.
    let expand = |s: &str| {
        s.replace("$(LWS_GROUP_SIZE)", "2")
            .replace("$(LWS_LEADER_ADDRESS)", "vllm-0.vllm.default")
            .replace("$$", "$")
    };
    let dir = crate::temp_dir("ray-inline");
    // Stubs: `ray` logs its arguments, `python3` reports one more live node per call, `vllm`
    // prints its argv.
    let stub = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&path)
            .status()
            .unwrap();
    };
    stub("ray", "echo \"ray $*\" >> \"$STUBS/log\"");
    stub(
        "python3",
        "n=$(cat \"$STUBS/n\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > \"$STUBS/n\"; echo $n",
    );
    stub("vllm", "printf '%s\\n' \"$@\"");
    stub("sleep", "true");
    let run = |script: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(expand(script))
            .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
            .env("STUBS", &dir)
            .output()
            .unwrap()
    };
    let out = run(&leader[2]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let argv: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(argv[..2], ["serve", "deepseek-ai/DeepSeek-R1"]);
    for pair in [
        ["--distributed-executor-backend", "ray"],
        ["--tensor-parallel-size", "8"],
        ["--pipeline-parallel-size", "2"],
    ] {
        assert!(argv.windows(2).any(|w| w == pair), "{pair:?} in {argv:?}");
    }
    // It polled until 2 nodes were alive: the second poll.
    assert_eq!(std::fs::read_to_string(dir.join("n")).unwrap().trim(), "2");
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert!(log.starts_with("ray start --head --port=6379"), "{log}");
    let out = run(&worker[2]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert!(
        log.contains("ray start --address=vllm-0.vllm.default:6379 --block"),
        "{log}"
    );
}

/// The probe renders the same group under `<name>-probe`, one replica, on random weights of
/// the real shapes and an engine-only startup budget; the next steps say how to feed its log
/// to `check-log`.
#[test]
fn the_probe_is_the_same_group_on_dummy_weights() {
    let plan = plan("deepseek-r1", "h100-80gb");
    let probe = Renderer::new(RenderOptions {
        probe: true,
        ..RenderOptions::default()
    })
    .unwrap();
    let manifests = probe.render(&plan).unwrap();
    let yaml = manifests.to_yaml().unwrap();
    assert!(yaml.contains("name: vllm-probe\n"), "{yaml}");
    assert!(yaml.contains("- --load-format\n") && yaml.contains("- dummy\n"));
    assert_eq!(probe.startup_seconds(&plan), 900);
    let full = Renderer::new(RenderOptions::default()).unwrap();
    assert!(full.startup_seconds(&plan) > 1800);
    crate::settings().bind(|| insta::assert_snapshot!("render@deepseek-r1@h100-80gb@probe", yaml));
    let (code, _, stderr) = crate::lwsplan(&[
        "render",
        "--model",
        "deepseek-r1",
        "--hardware",
        "h100-80gb",
        "--probe",
        "--replicas",
        "3",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("kubectl logs vllm-probe-0 -c vllm-leader | lwsplan check-log - --model deepseek-r1 --hardware h100-80gb"),
        "{stderr}"
    );
}

/// The manifests with default options, as YAML (rendered and validated).
fn default_yaml(plan: &Plan) -> String {
    Renderer::new(RenderOptions::default())
        .unwrap()
        .render(plan)
        .unwrap()
        .to_yaml()
        .unwrap()
}

fn plan_with(model: &str, hardware: &str, options: PlanOptions) -> Plan {
    let catalog = Catalog::builtin();
    Planner::new(
        catalog.model(model).unwrap(),
        catalog.hardware(hardware).unwrap(),
    )
    .plan(&options)
    .unwrap()
}

/// DP + EP across two 8-GPU nodes as vLLM's data-parallel deployment guide starts it: every pod
/// runs its local engines, the workers headless from their start rank, all wired to the
/// leader's address; the manifests validate (GPUs × size = TP × PP × DP).
#[test]
fn dp_ep_renders_as_vllm_documents_multi_node_data_parallelism() {
    for (model, tp) in [("deepseek-r1", 2), ("qwen3-235b-a22b", 2)] {
        let plan = plan_with(
            model,
            "h100-80gb",
            PlanOptions {
                strategy: lwsplan::Strategy::DpEp,
                nodes: Some(2),
                tensor_parallel_size: Some(tp),
                ..PlanOptions::default()
            },
        );
        assert_eq!(
            (
                plan.layout.nodes,
                plan.layout.data_parallel_size,
                plan.total_gpus
            ),
            (2, 16 / tp, 16),
            "{model}"
        );
        assert!(plan.expert_parallel);
        assert_eq!(plan.group_kv_cache_tokens, plan.kv_cache_tokens * 16 / tp);
        let yaml = default_yaml(&plan);
        let local = 8 / tp;
        for expected in [
            "- --data-parallel-size\n".to_string(),
            format!("- --data-parallel-size-local\n          - \"{local}\"\n"),
            "- --data-parallel-address\n          - $(LWS_LEADER_ADDRESS)\n".to_string(),
            format!("--headless --data-parallel-start-rank $$((LWS_WORKER_INDEX * {local}))"),
            "--enable-expert-parallel".to_string(),
        ] {
            assert!(yaml.contains(&expected), "{model}: {expected}\n{yaml}");
        }
        crate::settings()
            .bind(|| insta::assert_snapshot!(format!("render@{model}@h100-80gb@dp-ep"), yaml));
    }
}

/// DCP 8 on one 8 × H200 node: the latent KV cache split eight ways (576 × 2 / 8 = 144 bytes
/// per token and layer on each GPU, 61 layers: 8784), `--decode-context-parallel-size 8`.
#[test]
fn dcp_renders_on_one_h200_node() {
    let plan = plan_with(
        "deepseek-r1",
        "h200-141gb",
        PlanOptions {
            decode_context_parallel_size: Some(8),
            ..PlanOptions::default()
        },
    );
    assert_eq!(
        (
            plan.layout.tensor_parallel_size,
            plan.layout.decode_context_parallel_size,
            plan.layout.nodes
        ),
        (8, 8, 1)
    );
    assert_eq!(plan.kv_cache_bytes_per_token, 8784);
    let yaml = default_yaml(&plan);
    assert!(
        yaml.contains("- --decode-context-parallel-size\n          - \"8\"\n"),
        "{yaml}"
    );
    crate::settings().bind(|| insta::assert_snapshot!("render@deepseek-r1@h200-141gb@dcp8", yaml));
}
