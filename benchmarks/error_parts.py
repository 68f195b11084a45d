"""Where the CPU validation's error comes from, averaged by kind of step (FINDINGS.md's table).

    python benchmarks/error_parts.py [reports/validation]

Reads every `hwsim.validation/1` JSON report in the folder (nothing is measured) and prints, per part
of the error (each op class's matched ops, the per-op medians against the step, the time outside
ops), its share of the measured step, (estimated - measured) / measured step, averaged over three
groups: training steps of at least 25 ms, training steps under 25 ms, and decode steps. Why those
groups: the per-op framework time is a large share of small steps and a small one of large steps,
and a decode step's ops are a few rows each.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LARGE_STEP_S = 25e-3
GROUPS = ("training >= 25 ms", "training < 25 ms", "decode")


def group_of(report: dict) -> str:
    if report["mode"] != "train":
        return GROUPS[2]
    return GROUPS[0] if report["end_to_end"]["measured_s"] >= LARGE_STEP_S else GROUPS[1]


def main(folder: Path) -> int:
    shares: dict[str, dict[str, list[float]]] = {g: defaultdict(list) for g in GROUPS}
    counts = dict.fromkeys(GROUPS, 0)
    for path in sorted(folder.glob("*.json")):
        report = json.loads(path.read_text())
        if report.get("schema") != "hwsim.validation/1":
            continue
        group = group_of(report)
        counts[group] += 1
        step = report["end_to_end"]["measured_s"]
        for part, seconds in report["attribution_s"].items():
            shares[group][part.removeprefix("matched ")].append(seconds / step)
    last = ("per-op", "outside")  # the step-level parts after the op classes
    parts = sorted({p for g in GROUPS for p in shares[g]}, key=lambda p: (p.startswith(last), p))
    print("| part | " + " | ".join(f"{g} ({counts[g]})" for g in GROUPS) + " |")
    print("|---|" + "---:|" * len(GROUPS))
    for part in parts:
        cells = []
        for g in GROUPS:
            values = shares[g].get(part, [])
            # a step without ops of this class contributes 0 to the class's average
            cells.append(f"{100 * sum(values) / counts[g]:+.1f}%" if counts[g] else "-")
        print(f"| {part} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "reports" / "validation"))
