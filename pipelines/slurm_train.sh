#!/usr/bin/env bash
# Train on several GPU nodes of a SLURM cluster with torchrun (DDP).
#
#   mkdir -p logs
#   sbatch --nodes=2 pipelines/slurm_train.sh --arch residual --dataset /shared/dataset \
#     -o /shared/runs/residual
#   sbatch --nodes=2 pipelines/slurm_train.sh --resume /shared/runs/residual   # continue it
#
# SLURM starts one task per node (srun); each runs torchrun, which starts one training process
# per GPU of its node and joins the others through the c10d rendezvous on the first node
# ($MASTER_ADDR:29500). torchrun gives every process WORLD_SIZE (nodes × GPUs per node), RANK
# (0 .. WORLD_SIZE-1), LOCAL_RANK (its GPU on the node), MASTER_ADDR and MASTER_PORT: what
# vidcolor.training.distributed reads (WORLD_SIZE > 1 turns DDP on; NCCL on CUDA, each process on
# cuda:LOCAL_RANK). Rank 0 writes the checkpoints, so the dataset and the run folder must be on
# a filesystem every node sees.
#
# The effective batch is --batch-size × --accumulate × WORLD_SIZE (the thesis: 48). On 2 nodes
# × 4 GPUs, `--batch-size 6 --accumulate 1` keeps it. Resume on as many nodes and GPUs as the
# run started with: each rank's random state is in the checkpoint, so the result equals an
# uninterrupted run's.
#
#SBATCH --job-name=vidcolor-train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1          # one torchrun per node; it starts the per-GPU processes
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=32           # data loading: --workers per GPU process
#SBATCH --mem=0                      # all of each node's memory
#SBATCH --time=24:00:00
#SBATCH --output=logs/train-%j.out
set -euo pipefail

GPUS_PER_NODE=${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-4}}
NNODES=${SLURM_NNODES:-1}
# the rendezvous host: the job's first node
MASTER_ADDR=$(scontrol show hostnames "${SLURM_JOB_NODELIST:-$(hostname)}" | head -n 1)
MASTER_PORT=${MASTER_PORT:-29500}
export MASTER_ADDR MASTER_PORT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
# export NCCL_SOCKET_IFNAME=ib0      # the interconnect's interface, where NCCL guesses wrong

# How to start torchrun on the nodes (an activated environment, a container...), e.g.
#   TORCHRUN="apptainer exec --nv vidcolor.sif torchrun"
read -r -a TORCHRUN_CMD <<< "${TORCHRUN:-torchrun}"

echo "training on $NNODES node(s) x $GPUS_PER_NODE GPU(s); rendezvous $MASTER_ADDR:$MASTER_PORT"
# --kill-on-bad-exit: one failed node stops the others (they would wait at the next collective)
srun --kill-on-bad-exit=1 "${TORCHRUN_CMD[@]}" \
  --nnodes="$NNODES" \
  --nproc_per_node="$GPUS_PER_NODE" \
  --rdzv_id="${SLURM_JOB_ID:-vidcolor}" \
  --rdzv_backend=c10d \
  --rdzv_endpoint="$MASTER_ADDR:$MASTER_PORT" \
  -m vidcolor train --device cuda --workers 4 "$@"
