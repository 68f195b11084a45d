#!/usr/bin/env bash
# Calibrate hwsim on a CUDA GPU in one go and keep everything it produced.
#
# Usage (from the repository root, on a machine with a CUDA build of torch and a GPU):
#     bash benchmarks/gpu_calibrate_validate.sh [OUTPUT_FOLDER]      (default: $OUT, else ./gpu-calibration)
# Steps, each with its own time limit so that the whole stays well under 10 minutes on one H200:
#   1. environment facts (nvidia-smi, torch, CUDA)              -> env.txt
#   2. the GPU tests (tests/gpu, seconds)                        -> pytest-gpu.txt
#   3. the full CUDA sweep and fit (about 1-3 min on an H200)    -> calibration.yaml, <gpu stem>.yaml,
#      (collectives need 2 GPUs; with one they are skipped)        calibration.measurements/, calibrate.log
#   4. load both files back and print the headline figures      -> check.txt
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

timeout 180 "$PY" -m pytest -q -p no:cacheprovider tests/gpu >"$DIR/pytest-gpu.txt" 2>&1 || {
  echo "GPU tests FAILED (exit $?)"; status=1; }
tail -n 5 "$DIR/pytest-gpu.txt"

timeout 420 "$PY" -m hwsim calibrate --device cuda -o "$DIR/calibration.yaml" 2>"$DIR/calibrate.log" || {
  echo "calibration FAILED (exit $?)"; status=1; }
tail -n 25 "$DIR/calibrate.log"

timeout 60 "$PY" - "$DIR" >"$DIR/check.txt" 2>&1 <<'EOF' || { echo "check FAILED"; status=1; }
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
for op_class, by_dtype in sorted(cal.efficiency.items()):
    for dtype, entry in sorted(by_dtype.items()):
        print(f"  {op_class:12s} {dtype:8s} best {entry.best:.3f}, {len(entry.curve.points)} curve points")
EOF
cat "$DIR/check.txt"
exit $status
