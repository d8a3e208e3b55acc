#!/usr/bin/env bash
# One prepared check of the GPU paths, writing one markdown report: OUT_DIR/gpu_check.md.
#
#   bash scripts/gpu_check.sh --device cuda [--out DIR]     # on one H100/H200: about 8 minutes at most
#   bash scripts/gpu_check.sh --device cpu --tiny [--out DIR]  # the dry run (tests/test_gpu_check.py), seconds
#
# Steps, in order (each under its own time limit; a failure is recorded and the later steps still run):
#   0. environment, and the carried wheels installed (third_party/wheels, offline: pip --no-index)
#   1. gpuRIR built from its source in third_party/gpuRIR (CUDA only)
#   2. fidelity of gpurir and torchrir (CUDA) against pyroomacoustics on the same rooms, and the GPU tests
#   3. 2,000 rooms per backend in worker processes (scripts/bench_rooms.py)
#   4. features + augmentations at batch 512 (scripts/bench_features.py)
#   5. pretraining steps of paper.yaml in bf16, eager and torch.compile (scripts/bench_pretrain.py)
#   6. mcsimclr demo --device cuda --scale 8, end to end (CUDA only)
# --tiny runs the same steps at tiny sizes; the CUDA-only ones are reported as "skipped: needs CUDA".
# third_party/ (git-ignored) is filled by scripts/fetch_gpu_deps.sh. OUT_DIR defaults to $OUT, else ./gpu_check_out.
set -u

DEVICE=cuda
TINY=0
OUT_DIR=${OUT:-gpu_check_out}
while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE=$2; shift 2 ;;
        --tiny) TINY=1; shift ;;
        --out) OUT_DIR=$2; shift 2 ;;
        *) echo "gpu_check.sh: unknown argument $1 (expected --device cuda|cpu, --tiny, --out DIR)" >&2; exit 2 ;;
    esac
done
if [ "$DEVICE" != cuda ] && [ "$DEVICE" != cpu ]; then
    echo "gpu_check.sh: --device must be cuda or cpu, got $DEVICE" >&2
    exit 2
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
SITE=$WORK/site
mkdir -p "$SITE"
# The repository first: its code is what is checked, not the copy in the carried wheel.
export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled MPLBACKEND=Agg
REPORT=$OUT_DIR/gpu_check.md
PARTIAL=$REPORT.partial  # renamed to gpu_check.md only once every step has been recorded
cd "$REPO" || exit 1

# Per-step limits in seconds (CUDA: they add up to 470 s, inside the 8 minutes asked for). GNU timeout stops the
# step's whole process group, so no process of a step that ran out of time lives on into the next one.
if [ "$TINY" = 1 ]; then
    L_ENV=60; L_BUILD=60; L_FID=60; L_ROOMS=60; L_FEAT=60; L_PRE=90; L_DEMO=60
else
    L_ENV=20; L_BUILD=80; L_FID=45; L_ROOMS=45; L_FEAT=20; L_PRE=110; L_DEMO=150
fi

SUMMARY=()
{
    echo "# GPU check"
    echo
    echo "\`bash scripts/gpu_check.sh --device $DEVICE$([ "$TINY" = 1 ] && echo " --tiny")\`, $(date -u +%Y-%m-%dT%H:%M:%SZ)," \
         "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo
} >"$PARTIAL"

# run_step N TITLE LIMIT CMD...: runs CMD under LIMIT seconds; its stdout (markdown) goes into the report, the tail
# of its stderr too when it fails.
run_step() {
    local n=$1 title=$2 limit=$3
    shift 3
    local out=$WORK/step$n.out err=$WORK/step$n.err start end rc status
    start=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" >"$out" 2>"$err"
    rc=$?
    end=$(date +%s.%N)
    local took
    took=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc = 0 ]; then
        status="ok"
    elif [ $rc = 124 ] || [ $rc = 137 ]; then
        status="FAILED: timed out after ${limit} s"
    else
        status="FAILED: exit status $rc"
    fi
    {
        echo "## $n. $title"
        echo
        echo "**$status** ($took s, limit $limit s)"
        echo
        cat "$out"
        echo
        if [ $rc != 0 ]; then
            echo '```'
            tail -n 40 "$err"
            echo '```'
            echo
        fi
    } >>"$PARTIAL"
    SUMMARY+=("| $n. $title | $status | $took |")
}

skip_step() {
    local n=$1 title=$2 reason=$3
    printf '## %s. %s\n\n**skipped: %s**\n\n' "$n" "$title" "$reason" >>"$PARTIAL"
    SUMMARY+=("| $n. $title | skipped: $reason | - |")
}

step_environment() {
    if [ -d third_party/wheels ] && compgen -G "third_party/wheels/*.whl" >/dev/null; then
        echo "carried wheels, installed offline into $SITE:"
        echo
        local w
        for w in third_party/wheels/*.whl; do
            if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$w" \
                    2>>"$SITE/pip.log"; then
                echo "- $(basename "$w")"
            else
                echo "- $(basename "$w"): **not installed** (not for this Python or platform; pip's words on stderr)"
                tail -n 3 "$SITE/pip.log" >&2
            fi
        done
    else
        echo "no third_party/wheels: the packages already installed are used"
    fi
    echo
    "$PY" - <<'EOF'
import importlib.metadata as md
import platform

import torch

print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        print(f"- cuda:{i}: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs")
print()
for name in ("lightning", "numpy", "scipy", "h5py", "pyroomacoustics", "torchrir", "gpuRIR", "soundfile", "sofar"):
    try:
        print(f"- {name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"- {name}: not installed")
EOF
}

step_build_gpurir() {
    local src=third_party/gpuRIR
    if [ ! -f "$src/setup.py" ]; then
        echo "no gpuRIR source in $src: run scripts/fetch_gpu_deps.sh --gpurir PATH_OR_TARBALL first" >&2
        return 1
    fi
    # A copy, built for this GPU's architecture only (the source builds every major one: minutes longer).
    local arch
    arch=$("$PY" -c "import torch; c = torch.cuda.get_device_capability(); print(f'{c[0]}{c[1]}')") || return 1
    cp -r "$src" "$WORK/gpuRIR-src"
    sed -i "s/CUDA_ARCHITECTURES all-major/CUDA_ARCHITECTURES $arch/" "$WORK/gpuRIR-src/CMakeLists.txt"
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$PY" -m pip install -q --no-index --no-deps --no-build-isolation \
        --no-cache-dir --target "$SITE" "$WORK/gpuRIR-src" >&2 || return 1
    "$PY" -c "import gpuRIR, importlib.metadata as m; print('gpuRIR', m.version('gpuRIR'), 'built for sm_$arch')"
}

step_fidelity() {
    local rooms=$1 backends=$2
    # shellcheck disable=SC2086  # the backends are words
    "$PY" -m simulate.fidelity --backends $backends --rooms "$rooms" --seed 0 || return 1
    if [ "$DEVICE" = cuda ]; then
        echo
        echo "GPU tests (\`pytest -m gpu\`):"
        echo
        echo '```'
        "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_backends.py 2>&1 | tail -n 5
        echo '```'
    fi
}

run_step 0 "environment" "$L_ENV" bash -c "$(declare -f step_environment); PY=$PY SITE=$SITE step_environment"

if [ "$DEVICE" = cuda ]; then
    run_step 1 "build gpuRIR from third_party/gpuRIR" "$L_BUILD" \
        bash -c "$(declare -f step_build_gpurir); PY=$PY SITE=$SITE WORK=$WORK step_build_gpurir"
else
    skip_step 1 "build gpuRIR from third_party/gpuRIR" "needs CUDA"
fi

if [ "$TINY" = 1 ]; then
    FID_ROOMS=3; ROOMS=8; WORKERS=2; SIM_OVERRIDES="sample_rate=16000"
else
    FID_ROOMS=100; ROOMS=2000; WORKERS=$(nproc); SIM_OVERRIDES=""
fi
if [ "$DEVICE" = cuda ]; then
    BACKENDS="pyroomacoustics gpurir torchrir"
else
    BACKENDS="pyroomacoustics"
fi
run_step 2 "fidelity against pyroomacoustics on the same rooms ($BACKENDS)" "$L_FID" \
    bash -c "$(declare -f step_fidelity); PY=$PY DEVICE=$DEVICE step_fidelity $FID_ROOMS '$BACKENDS'"
[ "$DEVICE" = cpu ] && echo "gpurir and torchrir on CUDA: **skipped: needs CUDA**" >>"$PARTIAL" && echo >>"$PARTIAL"

# shellcheck disable=SC2086
run_step 3 "$ROOMS rooms per backend" "$L_ROOMS" "$PY" scripts/bench_rooms.py --backends $BACKENDS \
    --rooms "$ROOMS" --workers "$WORKERS" --rooms-per-task 25 $SIM_OVERRIDES
[ "$DEVICE" = cpu ] && echo "gpurir and torchrir on CUDA: **skipped: needs CUDA**" >>"$PARTIAL" && echo >>"$PARTIAL"

if [ "$TINY" = 1 ]; then
    run_step 4 "features + augmentations, batch 8" "$L_FEAT" "$PY" scripts/bench_features.py --batch 8 \
        --device "$DEVICE" --repeats 1 --reference-batch 2 --threads 1
    run_step 5 "pretraining steps (tiny.yaml, eager)" "$L_PRE" "$PY" scripts/bench_pretrain.py \
        --config configs/pretrain/tiny.yaml --device "$DEVICE" --steps 2 --warmup 2 --variants eager \
        --seconds 0.5 1.0 --threads 1
else
    run_step 4 "features + augmentations, batch 512" "$L_FEAT" "$PY" scripts/bench_features.py --batch 512 \
        --device "$DEVICE" --repeats 20 --reference-batch 2
    run_step 5 "pretraining steps of paper.yaml in bf16, eager and torch.compile" "$L_PRE" "$PY" \
        scripts/bench_pretrain.py --config configs/pretrain/paper.yaml --device "$DEVICE" --steps 15 --warmup 3 \
        --variants eager compile --seconds 1.0 1.2
fi

if [ "$DEVICE" = cuda ]; then
    run_step 6 "mcsimclr demo --device cuda --scale 8" "$L_DEMO" "$PY" -m mcsimclr.cli demo --device cuda \
        --scale 8 --out "$WORK/demo" --overwrite
else
    skip_step 6 "mcsimclr demo --device cuda --scale 8" "needs CUDA"
fi

{
    echo "## Summary"
    echo
    echo "| step | result | seconds |"
    echo "|---|---|---|"
    printf '%s\n' "${SUMMARY[@]}"
} >>"$PARTIAL"
mv "$PARTIAL" "$REPORT"
rm -rf "$WORK"
echo "gpu_check.sh: report in $REPORT"
