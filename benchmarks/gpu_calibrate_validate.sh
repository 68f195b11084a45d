#!/usr/bin/env bash
# Calibrate hwsim on a CUDA GPU, then validate its estimates against real runs, in one go, keeping
# everything it produced.
#
# Usage (from the repository root, on a machine with a CUDA build of torch and a GPU):
#     bash benchmarks/gpu_calibrate_validate.sh [OUTPUT_FOLDER]      (default: $OUT, else ./gpu-calibration)
# Steps, each with its own time limit so that the whole stays under 10 minutes on one H200 (limits
# add up to 590 s; expected about 5 min):
#   1. environment facts (nvidia-smi, torch, CUDA)              -> env.txt
#   2. the GPU tests (tests/gpu, seconds)                        -> pytest-gpu.txt
#   3. the full CUDA sweep and fit (about 1-3 min on an H200)    -> calibration.yaml, <gpu stem>.yaml,
#      (collectives need 2 GPUs; with one they are skipped)        calibration.measurements/, calibrate.log
#   4. load both files back and print the headline figures      -> check.txt
#   5. hwsim validate on CUDA, three held-out workloads (none    -> validation/<workload>--<stem>.md/.csv/
#      was used to fit: the fit sees microbenchmarks only),         .json, validation/index.md,
#      against the fitted files of step 3 (the datasheet file      validation/measurements/<stem>/ops.csv,
#      $VALIDATE_SYSTEM, default h200_sxm, with its default        validate-<n>.log
#      calibration if step 3 failed). Per op: CUDA events around
#      each ATen call; end to end: events around the step.
# A step that fails is reported and the next runs; the exit status is 1 if any failed.
set -uo pipefail
DIR="${1:-${OUT:-gpu-calibration}}"
mkdir -p "$DIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the working tree's hwsim, installed or not
PY="${PYTHON:-python}"
status=0

{ nvidia-smi || true
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'available', torch.cuda.is_available(), 'gpus', torch.cuda.device_count())"; } >"$DIR/env.txt" 2>&1
cat "$DIR/env.txt"

timeout 100 "$PY" -m pytest -q -p no:cacheprovider tests/gpu >"$DIR/pytest-gpu.txt" 2>&1 || {
  echo "GPU tests FAILED (exit $?)"; status=1; }
tail -n 5 "$DIR/pytest-gpu.txt"

timeout 280 "$PY" -m hwsim calibrate --device cuda -o "$DIR/calibration.yaml" 2>"$DIR/calibrate.log" || {
  echo "calibration FAILED (exit $?)"; status=1; }
tail -n 25 "$DIR/calibrate.log"

timeout 30 "$PY" - "$DIR" >"$DIR/check.txt" 2>&1 <<'EOF' || { echo "check FAILED"; status=1; }
import sys
from pathlib import Path

from hwsim.cost.calibration import load_calibration
from hwsim.hardware.loader import load_system
from hwsim.units import format_quantity

out = Path(sys.argv[1])
cal = load_calibration(out / "calibration.yaml")
device = load_system(out / f"{cal.applies_to_device}.yaml")
print(f"device {device.name}: {device.description}, measured={device.measured}")
for dtype, rate in sorted({**device.vector_flops, **device.matrix_flops}.items()):
    print(f"  peak {dtype}: {format_quantity(rate, 'flop_rate')}")
print(f"  memory bandwidth {format_quantity(device.memory_bandwidth, 'byte_rate')}")
print(f"calibration {cal.name}: launch overhead {format_quantity(cal.launch_overhead, 'time')}")
for mode, seconds in sorted(cal.eager_overhead.items()):
    print(f"  eager framework overhead per op, {mode}: {format_quantity(seconds, 'time')}")
for dtype, curve in sorted(cal.matmul_skinny.items()):
    print(f"  matmul_skinny {dtype}: {list(curve.points)}")
for op_class, by_dtype in sorted(cal.efficiency.items()):
    for dtype, entry in sorted(by_dtype.items()):
        print(f"  {op_class:12s} {dtype:8s} best {entry.best:.3f}, {len(entry.curve.points)} curve points")
EOF
cat "$DIR/check.txt"
# 5. validation on CUDA: bf16/fp16 workloads (fp32 grouped-query attention would take torch's math path
#    on CUDA, which the report would list as unmatched ops).
if [ -f "$DIR/calibration.yaml" ]; then
  STEM=$("$PY" -c "import sys; from hwsim.cost.calibration import load_calibration as l; \
print(l(sys.argv[1]).applies_to_device)" "$DIR/calibration.yaml")
  AGAINST=(--system "$DIR/$STEM.yaml" --calibration "$DIR/calibration.yaml")
else
  AGAINST=(--system "${VALIDATE_SYSTEM:-h200_sxm}")
fi
n=0
for spec in \
  "gpt2-124m-train --set task.batch=8" \
  "llama2-7b-decode --set task.batch=8" \
  "llama-tiny-train --set model.hidden=1024 --set model.heads=8 --set model.kv_heads=4 \
--set model.ffn_hidden=2816 --set model.seq_len=1024 --set task.seq_len=1024 --set task.batch=4 --set task.dtype=bf16"
do
  n=$((n + 1))
  # shellcheck disable=SC2086  # the spec is split into words on purpose
  timeout 60 "$PY" -m hwsim validate $spec --device cuda "${AGAINST[@]}" -o "$DIR/validation" \
    >"$DIR/validate-$n.log" 2>&1 || { echo "validation $n ($spec) FAILED (exit $?)"; status=1; }
  head -n 20 "$DIR/validate-$n.log"
done
cat "$DIR/validation/index.md" 2>/dev/null
exit $status
