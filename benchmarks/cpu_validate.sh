#!/usr/bin/env bash
# CPU validation of hwsim's estimates against real runs of the zoo models (BENCHMARKS.md, issue 4).
#
#   bash benchmarks/cpu_validate.sh [dev|fresh|all]      (default: all; run `hwsim calibrate --device cpu` first)
#
# Two sets of model shapes, none of them seen by the calibration (fitted on microbenchmarks only):
# - dev: the seven shapes validated while the cost model was being developed. Their reports guided
#   which effects were modelled (eager framework time, unfused RMS norm, skinny GEMMs, cold operands),
#   though no constant was fitted to them: they are held out from the fit, not from the developers.
# - fresh: four shapes chosen (and committed in this script) before their first run, after the
#   methods were frozen: the honest held-out figure.
# Each run measures anew (--remeasure), 20 repetitions, 1 thread, and writes its report to
# reports/validation/. The host is shared: each report states the drift of the calibration's own
# microbenchmarks at measurement time next to the errors.
set -euo pipefail
cd "$(dirname "$0")/.."
HWSIM=${HWSIM:-hwsim}
which_set=${1:-all}

run() { "$HWSIM" validate "$@" --device cpu --reps 20 --remeasure > /dev/null; }

if [[ $which_set == dev || $which_set == all ]]; then
  run llama-tiny-train
  run gpt-tiny-train
  run mixtral-tiny-train
  run llama-tiny-decode
  run llama-tiny-train --set model.hidden=256 --set model.ffn_hidden=704 --set task.seq_len=128
  run gpt-tiny-train --set model.hidden=256 --set model.ffn_hidden=1024 --set task.seq_len=128
  run llama-tiny-decode --set model.hidden=512 --set model.heads=8 --set model.kv_heads=4 \
    --set model.ffn_hidden=1408 --set task.batch=8 --set task.context_len=96
fi
if [[ $which_set == fresh || $which_set == all ]]; then
  run llama-tiny-train --set model.layers=3 --set model.hidden=384 --set model.heads=6 --set model.kv_heads=2 \
    --set model.ffn_hidden=1024 --set task.seq_len=96
  run gpt-tiny-train --set model.hidden=192 --set model.heads=3 --set model.ffn_hidden=768 \
    --set task.seq_len=128 --set task.batch=1
  run llama-tiny-decode --set model.hidden=256 --set model.heads=4 --set model.kv_heads=2 \
    --set model.ffn_hidden=704 --set task.batch=4 --set task.context_len=100
  run mixtral-tiny-train --set model.hidden=192 --set model.heads=4 --set model.ffn_hidden=384 \
    --set task.seq_len=64
fi
echo "reports: reports/validation/index.md"
