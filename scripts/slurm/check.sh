#!/usr/bin/env bash
# `make check-slurm`: pipelines/slurm/check.yaml run through a real one-node Slurm cluster on this
# machine (munged, slurmctld, slurmd; scripts/slurm/local-cluster.sh) with
# `distillery run --executor slurm --wait`, then locally with `--executor local`; the two must
# give the same results table and byte-identical teacher and student weights. The cluster is
# shut down however the check ends.
set -euo pipefail
binary=${DISTILLERY:-.build/release/distillery}
pipeline=pipelines/slurm/check.yaml
out=${CHECK_SLURM_OUT:-results/check-slurm}
state=${CHECK_SLURM_STATE:-/tmp/distillery-slurm-check}

rm -rf "$out"
scripts/slurm/local-cluster.sh start "$state"
trap 'scripts/slurm/local-cluster.sh stop "$state"' EXIT
export SLURM_CONF=$state/slurm.conf

seconds() { echo $(( $(date +%s) - $1 )); }
start=$(date +%s)
"$binary" run "$pipeline" --results "$out/slurm" --executor slurm --wait
slurm_seconds=$(seconds "$start")

start=$(date +%s)
"$binary" run "$pipeline" --results "$out/local" --executor local
local_seconds=$(seconds "$start")

python3 scripts/slurm/compare_runs.py "$out/local/slurm-check" "$out/slurm/slurm-check"
echo "check-slurm: passed (Slurm ${slurm_seconds} s, local ${local_seconds} s; job logs in $out/slurm/slurm-check/slurm)"
