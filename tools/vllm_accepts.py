#!/usr/bin/env python3
"""Does vLLM accept what lwsplan renders?  Checks rendered manifests with vLLM's own code.

For every LeaderWorkerSet in the given manifests (YAML from ``lwsplan render``, several
documents per file, or ``--format json``), and for its leader and each worker index, this tool

1. rebuilds the argument vector the container runs: Kubernetes' ``$(VAR)`` expansion (``$$``
   to ``$``) from the container's env and the variables LeaderWorkerSet injects, with sample
   values (``LWS_LEADER_ADDRESS`` = ``<name>-0.<name>.<namespace>``, ``LWS_GROUP_SIZE`` = the
   group size, ``LWS_WORKER_INDEX`` = 0 for the leader, 1 … size-1 for the workers); for
   ``sh -c`` scripts, the shell's own expansion (``$VAR``, ``${VAR}``, ``$((…))`` arithmetic,
   quotes) and then the simple command that runs ``vllm serve`` (or the Ray launcher's
   ``python3 -m vllm.entrypoints.openai.api_server``);
2. parses it with vLLM's own parser, built the way ``vllm`` builds it
   (``vllm/entrypoints/cli/main.py``: a ``FlexibleArgumentParser`` with the ``serve``
   subcommand of ``vllm/entrypoints/cli/serve.py``, whose ``make_arg_parser`` adds
   ``AsyncEngineArgs.add_cli_args`` and the frontend's arguments), then runs
   ``ServeSubcommand.validate`` and the checks ``ServeSubcommand.cmd`` makes before it starts
   anything (headless and API-server count, data-parallel load-balancing modes);
3. builds ``AsyncEngineArgs.from_cli_args(args)`` and calls ``create_engine_config`` (headless
   for ``--headless`` pods, with the API-server count ``run_multi_api_server`` sets), which
   builds the ModelConfig from the model's ``config.json`` (and ``hf_quant_config.json``), the
   ParallelConfig, and every cross-check of ``VllmConfig``. There is no GPU here, so the
   platform is a stand-in for CUDA whose GPU is the one the pod's node selector names
   (``--device-capability`` / ``--device-memory-gib`` otherwise), vLLM's compiled extensions
   load against a stand-in ``libcuda.so.1`` (built with ``cc``), and Triton's and torch's
   device queries answer for that GPU: everything vLLM decides from the arguments and the
   model's config runs, including the inspection of the model class; nothing that needs a
   device (attention backends, weights, KV cache, NCCL) does.
   ``--level model-parallel`` stops after ``create_model_config`` and the ParallelConfig
   construction as ``create_engine_config`` does it (useful if the full config needs a
   platform feature the stand-in lacks).

The model argument is replaced by a local directory holding the model's ``config.json``, so
nothing is downloaded: ``--config-dir REPO=DIR`` names one; ``--configs-root DIR`` searches
``DIR/<owner>__<name>/``, ``DIR/<name>/`` and flat files ``DIR/<owner>__<name>.json`` (with
``<owner>__<name>__hf_quant_config.json`` or ``<owner>__<name>.hf_quant_config.json``);
``--profiles DIR`` (lwsplan's ``profiles/models``) synthesizes a ``config.json`` from the
built-in profile whose ``hf_repo`` matches, as a last resort, and says so in the result.

Output: one line per manifest / LeaderWorkerSet / container (and worker index): ``accepted``
or vLLM's refusal, then (``--json FILE``) a JSON summary. Exit status 1 if anything was
refused.

Install (no GPU needed; about 6 GB with torch's CUDA wheels): vLLM with ``--no-deps``, then
torch 2.14.0 and the light part of vLLM's dependencies; the exact commands are in
tools/README.md. Needs ``cc`` and ``nm`` (the driver stand-in).

Run with vLLM 0.33.0 (PyPI), torch 2.14.0, transformers 5.20.2, on 2026-12-07 (Python 3.11).
A manual tool: CI does not install vLLM. See tools/README.md for the command that produced
``tools/measurements/vllm-0.33.0-accepts-*.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# --------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------


def load_documents(path: Path) -> list[dict]:
    """Every Kubernetes object in a YAML stream or a JSON document (object, list or List)."""
    text = path.read_text()
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        data = json.loads(text)
        docs = data if isinstance(data, list) else [data]
    else:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    out: list[dict] = []
    for doc in docs:
        if isinstance(doc, dict) and isinstance(doc.get("items"), list):
            out.extend(d for d in doc["items"] if isinstance(d, dict))
        elif isinstance(doc, dict) and "kind" not in doc:
            # lwsplan's JSON form may wrap the objects under named keys.
            out.extend(v for v in doc.values() if isinstance(v, dict) and "kind" in v)
        elif isinstance(doc, dict):
            out.append(doc)
    return out


@dataclass
class Pod:
    """One container of one pod of a group, with the variables Kubernetes would see."""

    lws: str
    role: str  # "leader" or "worker"
    worker_index: int
    container: dict
    spec: dict
    variables: dict[str, str]


def pods_of(lws: dict) -> list[Pod]:
    """The leader and every worker index of a LeaderWorkerSet, with LWS's injected env."""
    meta = lws.get("metadata", {})
    name = meta.get("name", "lws")
    namespace = meta.get("namespace", "default")
    template = lws["spec"]["leaderWorkerTemplate"]
    size = int(template.get("size", 1))
    worker = template["workerTemplate"]
    leader = template.get("leaderTemplate") or worker
    pods = []
    for index in range(size):
        tmpl = leader if index == 0 else worker
        for container in tmpl["spec"].get("containers", []):
            variables = {
                "LWS_LEADER_ADDRESS": f"{name}-0.{name}.{namespace}",
                "LWS_GROUP_SIZE": str(size),
                "LWS_WORKER_INDEX": str(index),
                "LWS_NAME": name,
                "LWS_GROUP_INDEX": "0",
            }
            variables.update(container_env(container, variables))
            role = "leader" if index == 0 else "worker"
            pods.append(Pod(name, role, index, container, tmpl["spec"], variables))
    return pods


FIELD_SAMPLES = {
    "status.podIP": "10.0.0.10",
    "status.hostIP": "10.0.1.10",
    "metadata.name": "vllm-0",
    "metadata.namespace": "default",
    "spec.nodeName": "node-0",
}


def container_env(container: dict, injected: dict[str, str]) -> dict[str, str]:
    """The container's env as Kubernetes resolves it: in order, each value expanded from the
    variables defined before it; valueFrom entries get sample values."""
    env = dict(injected)
    for entry in container.get("env", []) or []:
        name = entry["name"]
        if "value" in entry:
            env[name] = kube_expand(str(entry["value"]), env)
        elif "valueFrom" in entry:
            ref = entry["valueFrom"].get("fieldRef", {}).get("fieldPath", "")
            env[name] = FIELD_SAMPLES.get(ref, f"sample-{name.lower()}")
    return env


def kube_expand(s: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of command/args/env values: `$(VAR)` from env (left as is when
    undefined), `$$` to `$` (k8s.io/kubernetes third_party/forked/golang/expansion)."""
    out = []
    i = 0
    while i < len(s):
        if s[i] == "$" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = s.find(")", i + 2)
                if end != -1:
                    name = s[i + 2 : end]
                    out.append(env.get(name, s[i : end + 1]))
                    i = end + 1
                    continue
        out.append(s[i])
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------
# The shell: just enough of `sh -c` to find and expand the `vllm serve` simple command
# --------------------------------------------------------------------------------------------

OPERATORS = ("&&", "||", ";", "|", "&")


def arith(expr: str, env: dict[str, str]) -> str:
    """`$((expr))`: variables replaced by their values, then integer arithmetic."""
    expr = re.sub(r"\$?\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), "0"), expr)
    if not re.fullmatch(r"[0-9+\-*/%() ]*", expr):
        raise ValueError(f"unsupported shell arithmetic: $(({expr}))")
    return str(int(eval(expr.replace("/", "//"), {"__builtins__": {}})))  # noqa: S307 - digits only


def shell_words(script: str, env: dict[str, str]) -> list[str | tuple]:
    """Splits a shell line into expanded words and operator tokens (tuples). Handles quotes,
    backslashes, $VAR, ${VAR}, $((…)); `$(…)` command substitutions stay literal."""
    tokens: list[str | tuple] = []
    word: list[str] = []
    in_word = False
    i = 0
    n = len(script)

    def flush():
        nonlocal word, in_word
        if in_word:
            tokens.append("".join(word))
        word, in_word = [], False

    def dollar(j: int, quoted: bool) -> int:
        # Returns the index after the expansion starting at script[j] == "$".
        if script.startswith("$((", j):
            depth, k = 0, j + 1
            while k < n:
                if script[k] == "(":
                    depth += 1
                elif script[k] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            word.append(arith(script[j + 3 : k - 1], env))
            return k + 1
        if script.startswith("$(", j):
            depth, k = 0, j + 1
            while k < n:
                depth += script[k] == "("
                depth -= script[k] == ")"
                if depth == 0:
                    break
                k += 1
            word.append(script[j : k + 1])
            return k + 1
        if script.startswith("${", j):
            k = script.index("}", j)
            word.append(env.get(script[j + 2 : k], ""))
            return k + 1
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*!-]", script[j + 1 :])
        if not m:
            word.append("$")
            return j + 1
        word.append(env.get(m.group(0), ""))
        return j + 1 + len(m.group(0))

    while i < n:
        c = script[i]
        if c in " \t\n":
            flush()
            i += 1
        elif any(script.startswith(op, i) for op in OPERATORS):
            flush()
            op = next(op for op in OPERATORS if script.startswith(op, i))
            tokens.append((op,))
            i += len(op)
        elif c == "'":
            end = script.index("'", i + 1)
            word.append(script[i + 1 : end])
            in_word = True
            i = end + 1
        elif c == '"':
            in_word = True
            i += 1
            while script[i] != '"':
                if script[i] == "\\" and script[i + 1] in '$`"\\\n':
                    word.append(script[i + 1])
                    i += 2
                elif script[i] == "$":
                    i = dollar(i, True)
                else:
                    word.append(script[i])
                    i += 1
            i += 1
        elif c == "\\":
            word.append(script[i + 1])
            in_word = True
            i += 2
        elif c == "$":
            in_word = True
            i = dollar(i, False)
        else:
            word.append(c)
            in_word = True
            i += 1
    flush()
    return tokens


@dataclass
class VllmCommand:
    """The vLLM command a container runs: which parser reads it and its arguments."""

    entry: str  # "serve" or "api_server"
    argv: list[str]  # for "serve": starting with "serve"


def vllm_command(words: list[str]) -> VllmCommand | None:
    """The vLLM invocation in one simple command (after `exec`, `env`, assignments)."""
    w = list(words)
    while w and (w[0] in ("exec", "env") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w[0])):
        w.pop(0)
    for i in range(len(w) - 1):
        if Path(w[i]).name == "vllm" and w[i + 1] == "serve":
            return VllmCommand("serve", w[i + 1 :])
        if w[i] == "-m" and w[i + 1] == "vllm.entrypoints.openai.api_server":
            return VllmCommand("api_server", w[i + 2 :])
    return None


def command_of(pod: Pod) -> VllmCommand | None:
    """The vLLM command of a container, expanded as Kubernetes and the shell would."""
    raw = list(pod.container.get("command") or []) + list(pod.container.get("args") or [])
    argv = [kube_expand(a, pod.variables) for a in raw]
    if len(argv) >= 3 and Path(argv[0]).name in ("sh", "bash", "dash") and argv[1] == "-c":
        shell_env = dict(pod.variables)
        simple: list[str] = []
        for token in shell_words(argv[2], shell_env) + [(";",)]:
            if isinstance(token, tuple):
                found = vllm_command(simple)
                if found:
                    return found
                simple = []
            else:
                simple.append(token)
        return None
    return vllm_command(argv)


# --------------------------------------------------------------------------------------------
# Model configs
# --------------------------------------------------------------------------------------------

# Profile architecture → transformers model_type and the name of its expert-count field.
MODEL_TYPES = {
    "LlamaForCausalLM": ("llama", None),
    "Qwen2ForCausalLM": ("qwen2", None),
    "Qwen3ForCausalLM": ("qwen3", None),
    "Qwen3MoeForCausalLM": ("qwen3_moe", "num_experts"),
    "MixtralForCausalLM": ("mixtral", "num_local_experts"),
    "GptOssForCausalLM": ("gpt_oss", "num_local_experts"),
    "DeepseekV2ForCausalLM": ("deepseek_v2", "n_routed_experts"),
    "DeepseekV3ForCausalLM": ("deepseek_v3", "n_routed_experts"),
}


def config_from_profile(profile: dict) -> dict:
    """A config.json with the fields vLLM's config checks read, from an lwsplan profile.
    An approximation (transformers fills the rest with its defaults); the result says so."""
    arch = profile["architecture"]
    model_type, experts_key = MODEL_TYPES.get(arch, (None, None))
    if model_type is None:
        raise KeyError(f"no model_type known for {arch}; pass --config-dir")
    cfg = {"architectures": [arch], "model_type": model_type}
    for key in (
        "num_hidden_layers",
        "hidden_size",
        "vocab_size",
        "max_position_embeddings",
        "tie_word_embeddings",
        "torch_dtype",
        "layer_types",
        "sliding_window",
        "num_nextn_predict_layers",
    ):
        if key in profile:
            cfg[key] = profile[key]
    attn = profile.get("attention", {})
    for key in (
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "q_lora_rank",
        "kv_lora_rank",
        "qk_nope_head_dim",
        "qk_rope_head_dim",
        "v_head_dim",
    ):
        if key in attn:
            cfg[key] = attn[key]
    mlp = profile.get("mlp", {})
    for key in ("intermediate_size", "moe_intermediate_size", "num_experts_per_tok"):
        if key in mlp:
            cfg[key] = mlp[key]
    if mlp.get("kind") == "moe":
        cfg[experts_key] = mlp["n_routed_experts"]
        if model_type.startswith("deepseek"):
            cfg["n_shared_experts"] = mlp.get("n_shared_experts", 0)
            cfg["first_k_dense_replace"] = mlp.get("first_k_dense_replace", 0)
    quant = profile.get("quantization")
    if quant:
        cfg["quantization_config"] = {
            k: v for k, v in quant.items() if k in ("quant_method", "weight_block_size")
        }
        if quant.get("quant_method") == "fp8":
            cfg["quantization_config"]["activation_scheme"] = "dynamic"
    return cfg


@dataclass
class ConfigResolver:
    """Maps a model repository named in a manifest to a local directory with its config."""

    explicit: dict[str, Path]
    roots: list[Path]
    profiles: Path | None
    tmp: Path
    origin: dict[str, str] = field(default_factory=dict)
    resolved: dict[str, Path] = field(default_factory=dict)

    def resolve(self, repo: str) -> Path:
        """A directory holding the repository's config.json (a copy, see `_materialize`)."""
        if repo not in self.resolved:
            self.resolved[repo] = self._materialize(repo, *self._find(repo))
        return self.resolved[repo]

    def _find(self, repo: str) -> tuple[str, dict, dict | None]:
        """Where the config comes from, the config, and the hf_quant_config if any."""

        def read(d: Path) -> tuple[dict, dict | None]:
            quant = d / "hf_quant_config.json"
            return json.loads((d / "config.json").read_text()), (
                json.loads(quant.read_text()) if quant.is_file() else None
            )

        if repo in self.explicit:
            return (f"{self.explicit[repo]}", *read(self.explicit[repo]))
        if (Path(repo) / "config.json").is_file():
            return (repo, *read(Path(repo)))
        owner_name = repo.replace("/", "__")
        base = repo.split("/")[-1]
        for root in self.roots:
            for d in (root / owner_name, root / base):
                if (d / "config.json").is_file():
                    return (str(d), *read(d))
            flat = root / f"{owner_name}.json"
            if flat.is_file():
                quant = None
                for q in (f"{owner_name}__hf_quant_config.json", f"{owner_name}.hf_quant_config.json"):
                    if (root / q).is_file():
                        quant = json.loads((root / q).read_text())
                return (str(flat), json.loads(flat.read_text()), quant)
        if self.profiles:
            for path in sorted(self.profiles.glob("*.yaml")):
                profile = yaml.safe_load(path.read_text())
                if profile.get("hf_repo") == repo:
                    return (f"synthesized from {path}", config_from_profile(profile), None)
        raise FileNotFoundError(f"no config.json for {repo}: pass --config-dir {repo}=DIR")

    def _materialize(self, repo: str, origin: str, config: dict, quant: dict | None) -> Path:
        """Writes the config to a directory of its own. A published config's `auto_map` points
        at model code (configuration_*.py) the repository ships and this tool does not have;
        with --trust-remote-code transformers would look for it, so `auto_map` is dropped and
        transformers' or vLLM's own config class for the model_type is used, as it is for
        every model that needs no remote code."""
        note = origin
        if "auto_map" in config:
            config = {k: v for k, v in config.items() if k != "auto_map"}
            note += " (auto_map dropped: no remote code here)"
        d = self.tmp / repo.replace("/", "__")
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").write_text(json.dumps(config, indent=1))
        if quant is not None:
            (d / "hf_quant_config.json").write_text(json.dumps(quant, indent=1))
        self.origin[repo] = note
        return d

# --------------------------------------------------------------------------------------------
# vLLM
# --------------------------------------------------------------------------------------------


CUDA_DRIVER_STUB_RESULT = 100  # CUDA_ERROR_NO_DEVICE (cuda.h)


def load_driver_stub(tmp: Path) -> None:
    """vLLM's compiled extensions link the CUDA driver (libcuda.so.1), which a machine without
    a GPU lacks. A stand-in libcuda.so.1 whose every function vLLM's extensions import answers
    CUDA_ERROR_NO_DEVICE lets them load, so their ops register as on a GPU machine; no config
    check calls the driver. Built with the system C compiler and loaded before vLLM."""
    import ctypes
    import importlib.util
    import subprocess

    package = Path(importlib.util.find_spec("vllm").origin).parent
    symbols: set[str] = set()
    for so in package.rglob("*.so"):
        out = subprocess.run(["nm", "-D", "--undefined-only", str(so)], capture_output=True, text=True)
        symbols |= {m.split("@")[0] for m in re.findall(r"\bU (cu[A-Z]\w*)", out.stdout)}
    source = tmp / "libcuda_stub.c"
    source.write_text(
        "".join(f"int {name}(void) {{ return {CUDA_DRIVER_STUB_RESULT}; }}\n" for name in sorted(symbols))
    )
    library = tmp / "libcuda.so.1"
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o", str(library), str(source)],
        check=True,
    )
    ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)


# GPUs by the node label lwsplan selects on (GKE's accelerator name or NVIDIA's GPU product):
# compute capability and the memory CUDA reports, GiB (lwsplan's hardware profiles; CUDA
# compute capabilities, https://developer.nvidia.com/cuda-gpus).
DEVICES = {
    "a100-40gb": ((8, 0), 39.39, "NVIDIA A100-SXM4-40GB"),
    "a100": ((8, 0), 79.15, "NVIDIA A100-SXM4-80GB"),
    "l4": ((8, 9), 22.03, "NVIDIA L4"),
    "h100": ((9, 0), 79.18, "NVIDIA H100 80GB HBM3"),
    "h200": ((9, 0), 139.80, "NVIDIA H200"),
    "h20": ((9, 0), 95.0, "NVIDIA H20"),
    "gb200": ((10, 0), 184.0, "NVIDIA GB200"),
    "b200": ((10, 0), 178.36, "NVIDIA B200"),
    "gb300": ((10, 3), 275.0, "NVIDIA GB300"),
    "b300": ((10, 3), 268.0, "NVIDIA B300"),
}


@dataclass
class Device:
    """What the stand-in platform reports; set per pod from its node selector."""

    capability: tuple[int, int] = (9, 0)
    memory_gib: float = 80.0
    name: str = "stand-in CUDA device"


DEVICE = Device()


def device_of(pod_spec: dict, default: Device) -> Device:
    """The GPU a pod's node selector asks for, else the default."""
    labels = " ".join(str(v).lower() for v in (pod_spec.get("nodeSelector") or {}).values())
    for key in sorted(DEVICES, key=len, reverse=True):  # longest first: gb200 before b200
        if re.search(rf"(^|[-_ ]){re.escape(key)}", labels):
            cap, mem, name = DEVICES[key]
            return Device(cap, mem, name)
    return default


def install_platform() -> str:
    """Makes vLLM's current platform a CUDA stand-in (no GPU here): CudaPlatformBase, with the
    device queries answered from DEVICE. Must run before anything imports
    `vllm.platforms.current_platform`, and after `load_driver_stub`."""
    # Triton's CUDA driver would report itself inactive without a GPU, and vLLM would then use
    # its Triton placeholders, which modules that tune kernel configs at import (Mamba's SSD
    # ops) cannot use. On a GPU machine the driver is active: say so.
    from triton.backends import backends

    if "nvidia" in backends:
        backends["nvidia"].driver.is_active = staticmethod(lambda: True)
    # Some modules ask Triton's active driver for its target at import (the linear-attention
    # ops of Qwen3.5's Gated DeltaNet); Triton's real CUDA driver needs libcuda to start.
    import triton.runtime
    from triton.backends.compiler import GPUTarget

    class StandInTritonDriver:
        def get_current_target(self):
            return GPUTarget("cuda", DEVICE.capability[0] * 10 + DEVICE.capability[1], 32)

        def get_current_device(self):
            return 0

        def get_active_torch_device(self):
            import torch

            return torch.device("cuda", 0)

    triton.runtime.driver.set_active(StandInTritonDriver())
    # …and torch's own device queries, asked at import by the same ops.
    import torch

    torch.cuda.get_device_name = lambda device=None: DEVICE.name
    torch.cuda.get_device_capability = lambda device=None: DEVICE.capability
    import vllm.platforms as platforms
    from vllm.platforms.cuda import CudaPlatformBase as CudaPlatform
    from vllm.platforms.interface import DeviceCapability

    def as_int(cap) -> int:
        return cap[0] * 10 + cap[1] if isinstance(cap, tuple) else cap

    class StandInCuda(CudaPlatform):
        @classmethod
        def get_device_capability(cls, device_id: int = 0):
            return DeviceCapability(*DEVICE.capability)

        @classmethod
        def has_device_capability(cls, cap, device_id: int = 0):
            return as_int(DEVICE.capability) >= as_int(cap)

        @classmethod
        def is_device_capability(cls, cap, device_id: int = 0):
            return as_int(DEVICE.capability) == as_int(cap)

        @classmethod
        def is_device_capability_family(cls, capability: int, device_id: int = 0) -> bool:
            return as_int(DEVICE.capability) // 10 == capability // 10

        @classmethod
        def get_device_name(cls, device_id: int = 0) -> str:
            return DEVICE.name

        @classmethod
        def get_device_total_memory(cls, device_id: int = 0) -> int:
            return int(DEVICE.memory_gib * 2**30)

        @classmethod
        def device_count(cls) -> int:
            return 8

        @classmethod
        def is_fully_connected(cls, physical_device_ids) -> bool:
            return True

        @classmethod
        def log_warnings(cls):
            pass

    platforms._current_platform = StandInCuda()
    return "StandInCuda"


def route_registry_subprocess(tmp: Path) -> None:
    """vLLM inspects a model class (MoE? pipeline parallel?) in a fresh interpreter
    (`_run_in_subprocess` in vllm/model_executor/models/registry.py, "to avoid initializing
    CUDA"). That interpreter gets the same stand-ins through this script's
    `--registry-subprocess` mode."""
    from vllm.model_executor.models import registry

    registry._SUBPROCESS_COMMAND = [
        sys.executable, str(Path(__file__).resolve()), "--registry-subprocess", str(tmp)
    ]


def registry_subprocess(tmp: Path) -> None:
    """The registry's inspection subprocess, with the driver stub and the platform stand-in."""
    import ctypes

    ctypes.CDLL(str(tmp / "libcuda.so.1"), mode=ctypes.RTLD_GLOBAL)
    install_platform()
    from vllm.model_executor.models import registry

    registry._run()


def build_parsers():
    """vLLM's CLI parser as `vllm` builds it, with only the serve subcommand registered, and
    the API server's own parser (the Ray launcher's python3 -m … api_server)."""
    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.entrypoints.common.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(prog="vllm", description="vLLM CLI")
    subparsers = parser.add_subparsers(required=False, dest="subparser")
    serve = ServeSubcommand()
    serve.subparser_init(subparsers).set_defaults(dispatch_function=serve.cmd)
    api_server = make_arg_parser(
        FlexibleArgumentParser(prog="vllm.entrypoints.openai.api_server")
    )
    return parser, serve, api_server


def parse(parsers, cmd: VllmCommand) -> argparse.Namespace:
    """Parses with vLLM's parser; argparse's errors (unknown flag, bad value) become
    ValueError with argparse's message."""
    parser, serve, api_server = parsers
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            if cmd.entry == "serve":
                args = parser.parse_args(cmd.argv)
                serve.validate(args)
            else:
                args = api_server.parse_args(cmd.argv)
    except SystemExit:
        msg = err.getvalue().strip().splitlines()
        raise ValueError("argument parser: " + (msg[-1] if msg else "exited")) from None
    return args


def serve_prechecks(args: argparse.Namespace) -> int:
    """The checks ServeSubcommand.cmd makes before it starts anything; returns the API-server
    count it settles on (vllm/entrypoints/cli/serve.py, 0.33.0)."""
    if args.headless:
        if args.api_server_count is not None and args.api_server_count > 0:
            raise ValueError(
                f"--api-server-count={args.api_server_count} cannot be used with --headless"
            )
        args.api_server_count = 0
    is_external_lb = args.data_parallel_external_lb or args.data_parallel_rank is not None
    if not args.data_parallel_hybrid_lb and not args.data_parallel_multi_port_external_lb:
        is_hybrid_lb, is_multi_port = args.data_parallel_start_rank is not None, False
    else:
        is_hybrid_lb = args.data_parallel_hybrid_lb
        is_multi_port = args.data_parallel_multi_port_external_lb
    if sum([is_multi_port, is_external_lb, is_hybrid_lb]) > 1:
        raise ValueError("Cannot use more than one data parallel load balancing mode.")
    if args.api_server_count is None:
        if is_multi_port or is_external_lb:
            args.api_server_count = 1
        elif is_hybrid_lb:
            args.api_server_count = args.data_parallel_size_local or 1
        else:
            args.api_server_count = args.data_parallel_size
    return args.api_server_count


def engine_config(args: argparse.Namespace, api_servers: int, level: str) -> dict:
    """AsyncEngineArgs → (ModelConfig, ParallelConfig) or the whole VllmConfig, as serve does."""
    import vllm
    from vllm.config import ParallelConfig
    from vllm.usage.usage_lib import UsageContext

    engine_args = vllm.AsyncEngineArgs.from_cli_args(args)
    if api_servers > 1:
        engine_args._api_process_count = api_servers
        engine_args._api_process_rank = -1
    if level == "model-parallel":
        model_config = engine_args.create_model_config()
        parallel = ParallelConfig(
            pipeline_parallel_size=engine_args.pipeline_parallel_size,
            tensor_parallel_size=engine_args.tensor_parallel_size,
            data_parallel_size=engine_args.data_parallel_size,
            decode_context_parallel_size=engine_args.decode_context_parallel_size,
            enable_expert_parallel=engine_args.enable_expert_parallel,
            is_moe_model=model_config.is_moe,
            nnodes=engine_args.nnodes,
            node_rank=engine_args.node_rank,
            master_addr=engine_args.master_addr,
        )
        model_config.verify_with_parallel_config(parallel)
        return summary(model_config, parallel)
    config = engine_args.create_engine_config(
        usage_context=UsageContext.OPENAI_API_SERVER, headless=args.headless
    )
    if args.headless and engine_args.data_parallel_hybrid_lb:
        raise ValueError("data_parallel_hybrid_lb is not applicable in headless mode")
    if args.headless and config.parallel_config.data_parallel_size_local <= 0:
        raise ValueError("data_parallel_size_local must be > 0 in headless mode")
    return summary(config.model_config, config.parallel_config, config)


def summary(model, parallel, config=None) -> dict:
    out = {
        "architecture": (model.architectures or [None])[0],
        "max_model_len": model.max_model_len,
        "quantization": model.quantization,
        "tensor_parallel_size": parallel.tensor_parallel_size,
        "pipeline_parallel_size": parallel.pipeline_parallel_size,
        "data_parallel_size": parallel.data_parallel_size,
        "data_parallel_size_local": parallel.data_parallel_size_local,
        "data_parallel_rank": parallel.data_parallel_rank,
        "decode_context_parallel_size": parallel.decode_context_parallel_size,
        "enable_expert_parallel": parallel.enable_expert_parallel,
        "nnodes": parallel.nnodes,
        "node_rank": parallel.node_rank,
        "world_size": parallel.world_size,
    }
    if config is not None:
        out["kv_cache_dtype"] = config.cache_config.cache_dtype
        out["max_num_batched_tokens"] = config.scheduler_config.max_num_batched_tokens
        out["max_num_seqs"] = config.scheduler_config.max_num_seqs
    return out


def check(pod: Pod, parsers, resolver: ConfigResolver, level: str) -> dict:
    """One container: its vLLM command, parsed and turned into configs."""
    result = {"lws": pod.lws, "role": pod.role, "worker_index": pod.worker_index}
    cmd = command_of(pod)
    if cmd is None:
        result.update(status="skipped", reason="runs no vLLM command (e.g. a Ray worker)")
        return result
    result["argv"] = (["vllm"] if cmd.entry == "serve" else ["python3", "-m", "vllm.entrypoints.openai.api_server"]) + cmd.argv
    old_env = dict(os.environ)
    os.environ.update({k: v for k, v in pod.variables.items() if k.startswith("VLLM_")})
    try:
        args = parse(parsers, cmd)
        repo = getattr(args, "model_tag", None) or args.model
        result["model"] = repo
        local = resolver.resolve(repo)
        result["config"] = resolver.origin[repo]
        args.model_tag = None
        args.model = str(local)
        api_servers = serve_prechecks(args) if cmd.entry == "serve" else 1
        result["vllm"] = engine_config(args, api_servers, level)
        result["status"] = "accepted"
    except (ImportError, FileNotFoundError) as e:  # this tool's environment, not a verdict
        result["status"] = "error"
        result["error"] = f"{type(e).__name__}: {e}".strip()
    except Exception as e:  # vLLM's refusals are ValueError, AssertionError, pydantic errors…
        # …except a missing package vLLM reports in its own words (Ray for --launcher ray).
        result["status"] = "error" if "No module named" in str(e) else "refused"
        result["error"] = f"{type(e).__name__}: {e}".strip()
        result["where"] = "".join(traceback.format_tb(e.__traceback__)[-1:]).strip()
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    return result


def main() -> int:
    if sys.argv[1:2] == ["--registry-subprocess"]:
        registry_subprocess(Path(sys.argv[2]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("manifests", nargs="+", type=Path, help="rendered manifests (YAML or JSON)")
    ap.add_argument("--config-dir", action="append", default=[], metavar="REPO=DIR")
    ap.add_argument("--configs-root", action="append", default=[], type=Path, metavar="DIR")
    ap.add_argument("--profiles", type=Path, help="lwsplan's profiles/models, for synthesized configs")
    ap.add_argument("--level", choices=["engine", "model-parallel"], default="engine")
    ap.add_argument("--device-capability", default="9.0",
                    help="the stand-in GPU's compute capability where a pod's node selector names no known GPU")
    ap.add_argument("--device-memory-gib", type=float, default=80.0)
    ap.add_argument("--json", type=Path, help="write the JSON summary here")
    ap.add_argument("--label", action="append", default=[], metavar="FILE=LABEL",
                    help="a label for a manifest file in the output (e.g. the lwsplan command)")
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                    help="a field to record in the JSON summary (e.g. the lwsplan commit)")
    opts = ap.parse_args()

    major, minor = (int(x) for x in opts.device_capability.split("."))
    default_device = Device((major, minor), opts.device_memory_gib)
    labels = dict(item.split("=", 1) for item in opts.label)
    explicit = {k: Path(v) for k, v in (item.split("=", 1) for item in opts.config_dir)}
    results = []
    with tempfile.TemporaryDirectory(prefix="vllm-accepts-") as tmp:
        # A cache of its own: every model class is inspected here, in this environment.
        os.environ["VLLM_CACHE_ROOT"] = str(Path(tmp) / "vllm-cache")
        load_driver_stub(Path(tmp))
        platform = install_platform()
        route_registry_subprocess(Path(tmp))
        import vllm

        parsers = build_parsers()
        resolver = ConfigResolver(explicit, opts.configs_root, opts.profiles, Path(tmp))
        for path in opts.manifests:
            for doc in load_documents(path):
                if doc.get("kind") != "LeaderWorkerSet":
                    continue
                for pod in pods_of(doc):
                    device = device_of(pod.spec, default_device)
                    DEVICE.capability, DEVICE.memory_gib, DEVICE.name = (
                        device.capability, device.memory_gib, device.name
                    )
                    r = check(pod, parsers, resolver, opts.level)
                    r["device"] = f"{device.name} (sm {device.capability[0]}.{device.capability[1]})"
                    r["manifest"] = labels.get(str(path), str(path))
                    results.append(r)
                    verdict = r["status"]
                    if "error" in r:
                        verdict = verdict.upper() + ": " + r["error"]
                    print(f"{r['manifest']} {r['lws']} {r['role']}[{r['worker_index']}]: {verdict}",
                          flush=True)
    refused = [r for r in results if r["status"] == "refused"]
    report = {
        "vllm_version": vllm.__version__,
        "level": opts.level,
        "platform": f"{platform}: CUDA stand-in, no GPU; each pod's GPU from its node selector",
        "checked": len(results),
        "accepted": sum(r["status"] == "accepted" for r in results),
        "refused": len(refused),
        "skipped": sum(r["status"] == "skipped" for r in results),
        "errors": sum(r["status"] == "error" for r in results),
        "results": results,
    }
    report.update(dict(item.split("=", 1) for item in opts.meta))
    if opts.json:
        opts.json.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, sort_keys=True))
    return 1 if refused or report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
