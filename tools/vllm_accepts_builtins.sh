#!/usr/bin/env bash
# Renders every built-in model × hardware pair that lwsplan can plan (native launcher), plus a
# DP + EP render and a DCP render, and checks each with tools/vllm_accepts.py.
#
#   tools/vllm_accepts_builtins.sh VENV_PYTHON OUT_JSON [EXTRA lwsplan render FLAGS…]
#
# e.g. tools/vllm_accepts_builtins.sh /work/venv-vllm/bin/python \
#        tools/measurements/vllm-0.33.0-accepts-2026-12-07.json --vllm-version 0.33.0
# Run from the repository root; needs a built `lwsplan` (cargo build -p lwsplan-cli).
set -u
py=$1 out=$2
shift 2
lwsplan=${LWSPLAN:-target/debug/lwsplan}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
labels=() files=()
render() { # name, then render flags
  local name=$1
  shift
  # Node types without a GKE accelerator label (B300, H20) render for the NVIDIA platform.
  if ! "$lwsplan" render --launcher native "$@" >"$dir/$name.yaml" 2>"$dir/$name.err" &&
    grep -q 'no labels.gke_accelerator' "$dir/$name.err"; then
    set -- --platform nvidia "$@"
    "$lwsplan" render --launcher native "$@" >"$dir/$name.yaml" 2>"$dir/$name.err"
  fi
  if [ -s "$dir/$name.yaml" ]; then
    files+=("$dir/$name.yaml")
    labels+=(--label "$dir/$name.yaml=lwsplan render $*")
  else
    echo "not rendered: $* ($(head -1 "$dir/$name.err"))" >&2
  fi
}
models=$("$lwsplan" models | awk 'NR > 1 { print $1 }')
hardware=$("$lwsplan" hardware | awk 'NR > 1 { print $1 }')
for m in $models; do
  for h in $hardware; do
    render "$m--$h" --model "$m" --hardware "$h" "$@"
  done
done
render dp-ep --model deepseek-r1 --hardware h200-141gb --strategy dp-ep "$@"
render dp-ep-2-nodes --model deepseek-r1 --hardware h100-80gb --strategy dp-ep "$@"
render dcp --model deepseek-r1 --hardware h200-141gb --decode-context-parallel-size 8 "$@"
"$py" tools/vllm_accepts.py "${files[@]}" "${labels[@]}" \
  --configs-root tests/fixtures/hf \
  --config-dir meta-llama/Llama-3.1-8B-Instruct=tests/fixtures/hf/Llama-3.1-8B \
  ${VLLM_ACCEPTS_CONFIGS_ROOT:+--configs-root "$VLLM_ACCEPTS_CONFIGS_ROOT"} \
  --profiles profiles/models --json "$out" \
  --meta "lwsplan_commit=$(git rev-parse HEAD)" --meta "date=$(date -u +%F)" \
  --meta "render_flags=--launcher native $*"
