#!/usr/bin/env bash
# Render a whole season on a SLURM cluster: a job array, each task one shard of the episodes.
#
#   mkdir -p logs
#   sbatch --array=0-7 pipelines/slurm_render.sh SEASON_DIR OUT_DIR [RENDER OPTIONS...]
#   # e.g. sbatch --array=0-7 pipelines/slurm_render.sh /shared/season_bw /shared/season_colour \
#   #        -m /shared/runs/residual -m /shared/runs/plain --ensemble
#
# Task I of N runs `vidcolor render SEASON_DIR -o OUT_DIR --shard I/N`: the episodes (each video,
# and each folder of images, in SEASON_DIR) sorted by path, every N-th from I. No task talks to
# another; together they render every episode exactly once. SEASON_DIR, OUT_DIR and the models
# must be on a filesystem every node sees. Each task writes OUT_DIR/season-I-of-N.json (frames,
# seconds, status per episode) and a record beside each output.
#
# Re-submitting the same array is safe: finished episodes are skipped (their record names the
# same models and options), interrupted ones continue from their last finished segment (a task
# killed at its time limit loses at most one segment). A task whose episode failed exits 1
# (SLURM marks it FAILED); its other episodes are rendered. When every task has finished:
#   vidcolor evaluate --season OUT_DIR --truth COLOUR_DIR -o OUT_DIR/report
# gives one table of the season (frames, time, fps per episode; scores where a colour original is).
#
# Sizes: N tasks for E episodes; with N = E each task renders one episode. The array must be
# contiguous with step 1 (0-7, or 1-8: the shard index is counted from the array's first task).
#
#SBATCH --job-name=vidcolor-render
#SBATCH --array=0-7
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=04:00:00
#SBATCH --output=logs/render-%A_%a.out
set -euo pipefail

usage="usage: sbatch --array=0-N $0 SEASON_DIR OUT_DIR [RENDER OPTIONS...]"
SEASON=${1:?$usage}
OUT=${2:?$usage}
shift 2

# How to run vidcolor on the nodes (an activated environment, a module, a container...):
#   VIDCOLOR="python -m vidcolor" or VIDCOLOR="apptainer exec --nv vidcolor.sif vidcolor"
read -r -a VIDCOLOR_CMD <<< "${VIDCOLOR:-vidcolor}"

# Outside a job array (a plain sbatch or a test run by hand) the task is 0 of 1: everything.
TASK=$(( ${SLURM_ARRAY_TASK_ID:-0} - ${SLURM_ARRAY_TASK_MIN:-0} ))
TASKS=${SLURM_ARRAY_TASK_COUNT:-1}
CPUS=${SLURM_CPUS_PER_TASK:-$(nproc)}

# The per-frame refinement runs in CPU worker processes beside the GPU: give them the task's
# cores (one left for the decoder, the network and the encoder). Without --workers, vidcolor
# would count the whole node's cores, not the task's. One CPU thread for torch per process.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
WORKERS=$(( CPUS > 1 ? CPUS - 1 : 0 ))

echo "task $TASK of $TASKS on $(hostname): $SEASON -> $OUT (${CUDA_VISIBLE_DEVICES:-no GPU}," \
     "$WORKERS workers)"
mkdir -p "$OUT"
# --device cuda: a node without a working GPU fails the task at once instead of rendering on
# its CPU for hours (drop it to allow CPU nodes).
exec "${VIDCOLOR_CMD[@]}" render "$SEASON" -o "$OUT" --shard "$TASK/$TASKS" \
  --device cuda --workers "$WORKERS" "$@"
