#!/usr/bin/env bash
# Nightly on Slurm (cron or scrontab): N shard tasks as one array job, then the merge once
# all of them succeeded (afterok). AWS Batch is the same shape: an array job of size N whose
# command uses AWS_BATCH_JOB_ARRAY_INDEX instead of SLURM_ARRAY_TASK_ID, and a merge job
# submitted with dependsOn = the array job's id (it starts when every child succeeded).
set -euo pipefail
N=${RESTOCK_SHARDS:-8}
DIR=$(dirname "$0")
ARRAY=$(sbatch --parsable --array=0-$((N - 1)) "$DIR/restock-shards.sbatch")
sbatch --dependency=afterok:"$ARRAY" --job-name=restock-merge --cpus-per-task=2 --mem=6G \
  --wrap "restock --log-format json merge --pipeline ${RESTOCK_PIPELINE:-/etc/restock/pipeline.toml} --out ${RESTOCK_OUT:-/runs}"
