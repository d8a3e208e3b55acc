#!/usr/bin/env bash
# The MC-SimCLR paper's Table 1, from FSDnoisy18k to the table: simulate, pretrain (all four augmentations, none,
# and each one left out), probe (linear, fine-tune, label fractions, random-encoder and scratch baselines, several
# seeds), report. Resumable: run the same command again after an interruption. `--help` for the details.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/reproduce_paper.sh DATA_DIR [OUT_DIR]
       SMOKE=1 scripts/reproduce_paper.sh [OUT_DIR]

Reproduce the MC-SimCLR paper's Table 1 (ICASSP 2024) from FSDnoisy18k:

  1. simulate   simulate build --config configs/simulate/fsdnoisy18k.yaml --out OUT_DIR/data
                  source.fsdnoisy18k.root=DATA_DIR        -> noisy_train.h5, clean_train.h5, dev.h5, test.h5
                (dev: 200 clean_train clips held out, stratified by class; every choice is made on it)
  2. pretrain   mcsimclr pretrain --config configs/pretrain/paper.yaml, once per setting (SETTINGS):
                  all4            ChannelSwap+Mixup+RRC+ChannelDrop (the paper's pipeline)
                  none            no augmentation
                  no-channelswap, no-mixup, no-rrc, no-channeldrop   one augmentation left out
                -> OUT_DIR/pretrain/<setting>/checkpoints/last.ckpt
  3. probe      mcsimclr probe --config configs/probe/default.yaml, for every seed (SEEDS):
                  fit on clean_train, every choice made on dev (data.dev), scored once on test:
                  linear and finetune (100 % of the labels) of every setting's last.ckpt;
                  finetune at each label fraction (FRACTIONS) of the first setting;
                  baselines: random-linear, scratch, and scratch at each label fraction
                -> OUT_DIR/probe/<setting>/<mode>-f<fraction>-s<seed>/metrics.json
  4. report     mcsimclr report OUT_DIR/probe --out OUT_DIR/table1.md   (also table1.csv)

DATA_DIR is the FSDnoisy18k folder as distributed: FSDnoisy18k.audio_train/, FSDnoisy18k.audio_test/,
FSDnoisy18k.meta/train.csv and FSDnoisy18k.meta/test.csv. OUT_DIR defaults to runs/reproduce.

Resumable: a stage whose outputs are complete is skipped (split files present; a pretraining run whose
last.ckpt has reached its last epoch; a probe directory holding metrics.json); an interrupted pretraining run
continues with `mcsimclr pretrain --resume`, an interrupted simulation resumes by itself. A pretraining run that
ends before its last epoch (trainer.stop_after_epochs=N in PRETRAIN_ARGS, for a cluster job's time limit) makes
the script exit with status 75: run it again. The online kNN monitor (bank clean_train, queries dev) selects
best.ckpt on the dev split; probes use last.ckpt (the end of the schedule), as the paper. Exit status: 0 done,
2 bad arguments or data, 75 run again, else the failing command's.

Environment variables:
  DRY_RUN=1        print every command (lines starting with "+ ") without running anything
  SMOKE=1          a CPU check of the whole script in a few minutes: the built-in synthetic source and the tiny
                   configs (configs/{simulate,pretrain,probe}/tiny.yaml), no DATA_DIR; SETTINGS "all4 no-mixup",
                   SEEDS "0", FRACTIONS "0.5" unless set
  SETTINGS         pretraining settings, first one also gets the label fractions and gives the baselines their
                   architecture (default: "all4 none no-channelswap no-mixup no-rrc no-channeldrop")
  SEEDS            probe seeds (default "0 1 2")
  FRACTIONS        label fractions below 1 for subset fine-tuning (default "0.01 0.1 0.5")
  PRETRAIN_SEED    seed of every pretraining run (default 0)
  EPOCHS           pretraining epochs (default: the config's, 500 for the paper)
  BATCH            total pretraining batch over all processes (default: 512 for the paper, the config's in SMOKE)
  NPROC            GPUs per node for pretraining, trainer.devices (default 1)
  NNODES           nodes for pretraining, trainer.num_nodes (default 1; needs LAUNCHER=torchrun or srun)
  LAUNCHER         how pretraining processes start: "" (default: Lightning starts NPROC processes itself),
                   "torchrun" (torchrun --nproc_per_node=NPROC --nnodes=NNODES $TORCHRUN_ARGS -m mcsimclr.cli),
                   "srun" (inside a SLURM allocation with NNODES x NPROC tasks)
  TORCHRUN_ARGS    extra torchrun arguments, e.g. "--rdzv-backend=c10d --rdzv-endpoint=HOST:29500"
  ALLOW_CPU=1      pass --allow-cpu to pretraining (the paper's config refuses to start without a GPU)
  WANDB            offline (default: an offline wandb run per pretraining, `wandb sync` later), online or off
  SIM_WORKERS      simulate build --workers (default 2)
  SIM_SHARDS       build in N shards (`--shard I/N`, one after another, each resumable) and `simulate merge` them
  PRETRAIN_ARGS    extra overrides for every pretraining run, e.g. "data.mode=stream data.num_workers=16"
  PROBE_ARGS       extra overrides for every probe, e.g. "trainer.precision=32"
  SIMULATE, MCSIMCLR, PYTHON   the commands to call (default: simulate, mcsimclr, python)
GPUs: CUDA_VISIBLE_DEVICES selects them, as usual.

examples:
  scripts/reproduce_paper.sh /data/FSDnoisy18k runs/paper-table1
  NPROC=4 scripts/reproduce_paper.sh /data/FSDnoisy18k            # pretraining on 4 GPUs of one node (DDP)
  DRY_RUN=1 scripts/reproduce_paper.sh /data/FSDnoisy18k          # the plan, nothing run
  SMOKE=1 scripts/reproduce_paper.sh /tmp/smoke                   # CPU, minutes
EOF
}

die() {
    echo "reproduce_paper.sh: error: $*" >&2
    exit 2
}

for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $arg (see --help)" ;;
    esac
done

SMOKE="${SMOKE:-0}"
DRY_RUN="${DRY_RUN:-0}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "$SMOKE" == 1 ]]; then
    [[ $# -le 1 ]] || die "SMOKE=1 takes only [OUT_DIR] (no DATA_DIR: it uses the built-in synthetic source)"
    DATA_DIR=""
    OUT="${1:-runs/reproduce-smoke}"
    SIM_CONFIG="$REPO/configs/simulate/tiny.yaml"
    PRETRAIN_CONFIG="$REPO/configs/pretrain/tiny.yaml"
    PROBE_CONFIG="$REPO/configs/probe/tiny.yaml"
    SETTINGS="${SETTINGS:-all4 no-mixup}"
    SEEDS="${SEEDS:-0}"
    FRACTIONS="${FRACTIONS-0.5}"
    BATCH="${BATCH:-}"
else
    [[ $# -ge 1 && $# -le 2 ]] || { usage >&2; exit 2; }
    DATA_DIR="$1"
    OUT="${2:-runs/reproduce}"
    SIM_CONFIG="$REPO/configs/simulate/fsdnoisy18k.yaml"
    PRETRAIN_CONFIG="$REPO/configs/pretrain/paper.yaml"
    PROBE_CONFIG="$REPO/configs/probe/default.yaml"
    SETTINGS="${SETTINGS:-all4 none no-channelswap no-mixup no-rrc no-channeldrop}"
    SEEDS="${SEEDS:-0 1 2}"
    FRACTIONS="${FRACTIONS-0.01 0.1 0.5}"
    BATCH="${BATCH:-512}"
fi

PRETRAIN_SEED="${PRETRAIN_SEED:-0}"
EPOCHS="${EPOCHS:-}"
NPROC="${NPROC:-1}"
NNODES="${NNODES:-1}"
LAUNCHER="${LAUNCHER:-}"
TORCHRUN_ARGS="${TORCHRUN_ARGS:-}"
ALLOW_CPU="${ALLOW_CPU:-0}"
WANDB="${WANDB:-offline}"
SIM_WORKERS="${SIM_WORKERS:-2}"
SIM_SHARDS="${SIM_SHARDS:-}"
PRETRAIN_ARGS="${PRETRAIN_ARGS:-}"
PROBE_ARGS="${PROBE_ARGS:-}"
read -ra SIMULATE_CMD <<< "${SIMULATE:-simulate}"
read -ra MCSIMCLR_CMD <<< "${MCSIMCLR:-mcsimclr}"
PYTHON="${PYTHON:-python}"
SPLITS=(noisy_train clean_train dev test)

# ---- checks before any work ---------------------------------------------------------------------------------
is_count() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }
is_count "$NPROC" || die "NPROC must be a positive integer, got '$NPROC'"
is_count "$NNODES" || die "NNODES must be a positive integer, got '$NNODES'"
is_count "$SIM_WORKERS" || die "SIM_WORKERS must be a positive integer, got '$SIM_WORKERS'"
[[ -z "$SIM_SHARDS" ]] || is_count "$SIM_SHARDS" || die "SIM_SHARDS must be a positive integer, got '$SIM_SHARDS'"
[[ -z "$EPOCHS" ]] || is_count "$EPOCHS" || die "EPOCHS must be a positive integer, got '$EPOCHS'"
case "$LAUNCHER" in
    ""|torchrun|srun) ;;
    *) die "LAUNCHER must be empty, torchrun or srun, got '$LAUNCHER'" ;;
esac
[[ "$NNODES" == 1 || -n "$LAUNCHER" ]] || die "NNODES=$NNODES needs LAUNCHER=torchrun or LAUNCHER=srun"
case "$WANDB" in
    offline|online|off) ;;
    *) die "WANDB must be offline, online or off, got '$WANDB'" ;;
esac
WORLD=$((NPROC * NNODES))
PER_PROCESS_BATCH=""
if [[ -n "$BATCH" ]]; then
    is_count "$BATCH" || die "BATCH must be a positive integer, got '$BATCH'"
    (( BATCH % WORLD == 0 )) || die "BATCH=$BATCH is not divisible by NPROC x NNODES = $WORLD processes"
    PER_PROCESS_BATCH=$((BATCH / WORLD))
fi
read -ra SETTING_LIST <<< "$SETTINGS"
read -ra SEED_LIST <<< "$SEEDS"
read -ra FRACTION_LIST <<< "$FRACTIONS"
read -ra PRETRAIN_EXTRA <<< "$PRETRAIN_ARGS"
read -ra PROBE_EXTRA <<< "$PROBE_ARGS"
[[ ${#SETTING_LIST[@]} -ge 1 ]] || die "SETTINGS is empty"
[[ ${#SEED_LIST[@]} -ge 1 ]] || die "SEEDS is empty"

# Augmentation overrides of each pretraining setting (the four are on in both configs by default).
setting_overrides() {
    local off=()
    case "$1" in
        all4) ;;
        none) off=(channel_swap mixup crop channel_drop) ;;
        no-channelswap) off=(channel_swap) ;;
        no-mixup) off=(mixup) ;;
        no-rrc) off=(crop) ;;
        no-channeldrop) off=(channel_drop) ;;
        *) return 1 ;;
    esac
    local aug
    for aug in channel_swap mixup crop channel_drop; do
        if [[ " ${off[*]-} " == *" $aug "* ]]; then
            echo "augment.$aug.enabled=false"
        else
            echo "augment.$aug.enabled=true"
        fi
    done
}
for setting in "${SETTING_LIST[@]}"; do
    setting_overrides "$setting" > /dev/null ||
        die "unknown setting '$setting' in SETTINGS (known: all4 none no-channelswap no-mixup no-rrc no-channeldrop)"
done
for fraction in "${FRACTION_LIST[@]}"; do
    "$PYTHON" -c "import sys; f = float(sys.argv[1]); sys.exit(not 0 < f < 1)" "$fraction" 2> /dev/null ||
        die "FRACTIONS must be numbers in (0, 1), got '$fraction'"
done

if [[ "$SMOKE" != 1 ]]; then
    [[ -d "$DATA_DIR" ]] || die "DATA_DIR $DATA_DIR does not exist (the FSDnoisy18k folder, see --help)"
    missing=()
    for dir in FSDnoisy18k.audio_train FSDnoisy18k.audio_test FSDnoisy18k.meta; do
        [[ -d "$DATA_DIR/$dir" ]] || missing+=("$dir/")
    done
    for file in FSDnoisy18k.meta/train.csv FSDnoisy18k.meta/test.csv; do
        [[ -f "$DATA_DIR/$file" ]] || missing+=("$file")
    done
    [[ ${#missing[@]} -eq 0 ]] ||
        die "DATA_DIR $DATA_DIR is not FSDnoisy18k as distributed: missing ${missing[*]}"
    DATA_DIR="$(cd "$DATA_DIR" && pwd)"
fi

# ---- running commands -----------------------------------------------------------------------------------------
[[ "$OUT" == /* ]] || OUT="$PWD/$OUT"
DATA="$OUT/data"
LOGS="$OUT/logs"

# run LOG_NAME CMD...: print the command; unless DRY_RUN, run it with its output also appended to OUT/logs/LOG_NAME.
run() {
    local log="$1"
    shift
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    [[ "$DRY_RUN" == 1 ]] && return 0
    mkdir -p "$LOGS"
    "$@" 2>&1 | tee -a "$LOGS/$log.log"
}

skip() {
    echo "# skip: $*"
}

# ---- 1. simulate ----------------------------------------------------------------------------------------------
simulate_stage() {
    local split all=1
    for split in "${SPLITS[@]}"; do
        [[ -f "$DATA/$split.h5" ]] || all=0
    done
    if [[ $all == 1 ]]; then
        skip "simulate: ${SPLITS[*]} are in $DATA"
        return
    fi
    local build=("${SIMULATE_CMD[@]}" build --config "$SIM_CONFIG" --out "$DATA" --workers "$SIM_WORKERS"
                 --no-progress)
    [[ "$SMOKE" == 1 ]] || build+=("source.fsdnoisy18k.root=$DATA_DIR")
    if [[ -z "$SIM_SHARDS" ]]; then
        run simulate "${build[@]}"
        return
    fi
    local i shards
    for ((i = 0; i < SIM_SHARDS; i++)); do
        run simulate "${build[@]}" --shard "$i/$SIM_SHARDS"
    done
    for split in "${SPLITS[@]}"; do
        [[ -f "$DATA/$split.h5" ]] && { skip "merge: $DATA/$split.h5 exists"; continue; }
        shards=()
        for ((i = 0; i < SIM_SHARDS; i++)); do
            shards+=("$DATA/$split.shard-$i-of-$SIM_SHARDS.h5")
        done
        run simulate "${SIMULATE_CMD[@]}" merge "${shards[@]}" --out "$DATA/$split.h5"
    done
}

# ---- 2. pretrain ----------------------------------------------------------------------------------------------
# complete | partial | none: whether OUT_DIR/pretrain/<setting>/checkpoints/last.ckpt has reached the last epoch.
pretrain_state() {
    local dir="$1"
    [[ -f "$dir/checkpoints/last.ckpt" ]] || { echo none; return; }
    "$PYTHON" - "$dir" <<'EOF'
import sys
from pathlib import Path

import torch
import yaml

run = Path(sys.argv[1])
epochs = yaml.safe_load((run / "config.yaml").read_text())["optim"]["epochs"]
checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
print("complete" if checkpoint["epoch"] + 1 >= epochs else "partial")
EOF
}

pretrain_stage() {
    local setting="$1"
    local dir="$OUT/pretrain/$setting"
    local state
    state="$(pretrain_state "$dir")"
    if [[ "$state" == complete ]]; then
        skip "pretrain $setting: $dir/checkpoints/last.ckpt is at its last epoch"
        return
    fi
    local launch
    case "$LAUNCHER" in
        "") launch=("${MCSIMCLR_CMD[@]}") ;;
        torchrun)
            local torchrun_extra
            read -ra torchrun_extra <<< "$TORCHRUN_ARGS"
            launch=(torchrun "--nproc_per_node=$NPROC" "--nnodes=$NNODES" "${torchrun_extra[@]}" -m mcsimclr.cli) ;;
        srun) launch=(srun "${MCSIMCLR_CMD[@]}") ;;
    esac
    local cmd=("${launch[@]}" pretrain --config "$PRETRAIN_CONFIG")
    [[ "$state" == partial ]] && cmd+=(--resume)
    [[ "$ALLOW_CPU" == 1 ]] && cmd+=(--allow-cpu)
    cmd+=("out_dir=$dir" "seed=$PRETRAIN_SEED" "data.train=$DATA/noisy_train.h5"
          "monitor.train=$DATA/clean_train.h5" "monitor.dev=$DATA/dev.h5"
          "trainer.devices=$NPROC" "trainer.num_nodes=$NNODES")
    local override
    while read -r override; do
        cmd+=("$override")
    done < <(setting_overrides "$setting")
    [[ -z "$PER_PROCESS_BATCH" ]] || cmd+=("optim.batch_size=$PER_PROCESS_BATCH")
    [[ -z "$EPOCHS" ]] || cmd+=("optim.epochs=$EPOCHS" "optim.warmup_epochs=$(( EPOCHS < 10 ? (EPOCHS + 1) / 2 : 10 ))")
    case "$WANDB" in
        off) cmd+=("log.wandb=false") ;;
        online) cmd+=("log.wandb=true" "log.wandb_mode=online") ;;
    esac
    cmd+=("${PRETRAIN_EXTRA[@]}")
    run "pretrain-$setting" "${cmd[@]}"
    if [[ "$DRY_RUN" != 1 && "$(pretrain_state "$dir")" != complete ]]; then
        # e.g. trainer.stop_after_epochs in PRETRAIN_ARGS, for a cluster job's time limit: never probe a
        # checkpoint from the middle of the schedule.
        echo "reproduce_paper.sh: pretraining '$setting' stopped before its last epoch; run the same command" \
             "again to continue it (--resume)" >&2
        exit 75
    fi
}

# ---- 3. probe -------------------------------------------------------------------------------------------------
# probe_stage NAME MODE FRACTION SEED CHECKPOINT
probe_stage() {
    local name="$1" mode="$2" fraction="$3" seed="$4" checkpoint="$5"
    local dir="$OUT/probe/$name/$mode-f$fraction-s$seed"
    if [[ -f "$dir/metrics.json" ]]; then
        skip "probe: $dir holds a result"
        return
    fi
    run "probe-$name" "${MCSIMCLR_CMD[@]}" probe --config "$PROBE_CONFIG" --mode "$mode" --checkpoint "$checkpoint" \
        --fraction "$fraction" --seed "$seed" --out "$dir" \
        "data.train=$DATA/clean_train.h5" "data.dev=$DATA/dev.h5" "data.test=$DATA/test.h5" "${PROBE_EXTRA[@]}"
}

checkpoint_of() {
    echo "$OUT/pretrain/$1/checkpoints/last.ckpt"
}

# ---- the recipe -----------------------------------------------------------------------------------------------
dry_note=""
[[ "$DRY_RUN" == 1 ]] && dry_note="; dry run: nothing is run"
echo "# reproduce_paper.sh: out $OUT; settings: ${SETTING_LIST[*]}; seeds: ${SEED_LIST[*]};" \
     "fractions: 1 ${FRACTION_LIST[*]}; $WORLD pretraining process(es)$dry_note"
simulate_stage
for setting in "${SETTING_LIST[@]}"; do
    pretrain_stage "$setting"
done
# The checkpoint at the end of the schedule, as the paper: best.ckpt is chosen by the online kNN monitor on the
# dev split (never test), but the protocol probes the encoder the schedule ends with.
first="${SETTING_LIST[0]}"
for seed in "${SEED_LIST[@]}"; do
    for setting in "${SETTING_LIST[@]}"; do
        probe_stage "$setting" linear 1 "$seed" "$(checkpoint_of "$setting")"
        probe_stage "$setting" finetune 1 "$seed" "$(checkpoint_of "$setting")"
    done
    for fraction in "${FRACTION_LIST[@]}"; do
        probe_stage "$first" finetune "$fraction" "$seed" "$(checkpoint_of "$first")"
    done
    # Baselines: a random encoder with the architecture and features of the first setting's checkpoint.
    probe_stage baseline random-linear 1 "$seed" "$(checkpoint_of "$first")"
    probe_stage baseline scratch 1 "$seed" "$(checkpoint_of "$first")"
    for fraction in "${FRACTION_LIST[@]}"; do
        probe_stage baseline scratch "$fraction" "$seed" "$(checkpoint_of "$first")"
    done
done
run report "${MCSIMCLR_CMD[@]}" report "$OUT/probe" --out "$OUT/table1.md"
if [[ "$DRY_RUN" != 1 ]]; then
    echo "# done: $OUT/table1.md and $OUT/table1.csv; logs in $LOGS"
    if [[ "$WANDB" == offline ]] && compgen -G "$OUT/pretrain/*/wandb/offline-run-*" > /dev/null; then
        echo "# offline wandb runs: wandb sync $OUT/pretrain/*/wandb/offline-run-*"
    fi
fi
