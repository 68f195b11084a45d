"""Bad inputs the project's own tests try, per test file and file kind, and the fuzzing examples run.

Run:  python benchmarks/bad_input_counts.py
Counts collected test cases (each parametrized case is one bad input) under tests/bad_inputs, and
runs tests/fuzz with hypothesis' statistics to count the generated examples. Prints a Markdown table
for BENCHMARKS.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter

# What each test file feeds hwsim: the kind of input its bad cases are.
KINDS = {
    "test_workload_bad_inputs.py": "workload files, --set overrides",
    "test_hardware_bad_inputs.py": "hardware files (device, node, cluster)",
    "test_calibrate_bad_inputs.py": "hwsim calibrate command line",
    "test_validate_bad_inputs.py": "hwsim validate command line",
    "test_numeric_contract.py": "numeric contract: workload, hardware and calibration files",
    "test_output_files.py": "-o output paths of every command",
    "test_factory_trust.py": "model.factory (code named by a workload file)",
}


def main() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/bad_inputs"],
        capture_output=True, text=True, check=False,
    ).stdout
    counts = Counter(line.split("::")[0].rsplit("/", 1)[-1] for line in out.splitlines() if "::" in line)
    print("| test file | bad inputs of | cases |\n|---|---|---:|")
    for name, n in sorted(counts.items()):
        print(f"| `{name}` | {KINDS.get(name, '?')} | {n} |")
    print(f"| total | | {sum(counts.values())} |")
    started = time.perf_counter()
    fuzz = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/fuzz", "--hypothesis-show-statistics"],
        capture_output=True, text=True, check=False,
    ).stdout
    seconds = time.perf_counter() - started
    examples = sum(int(n) for n in re.findall(r"(\d+) passing examples", fuzz))
    tail = fuzz.strip().splitlines()[-1] if fuzz.strip() else "no output"
    print(f"\nFuzzing: {examples} passing examples over tests/fuzz in {seconds:.0f} s ({tail})")


if __name__ == "__main__":
    main()
