"""How reproducible per-op measurements are on this host: two validation runs of the same shapes.

    python benchmarks/op_reproducibility.py COMMIT      (the reports in reports/validation/ against
                                                        those committed at COMMIT)

For every workload whose report exists in both, ops are matched by graph index (same graph, same
op) and the measured medians compared: MAPE = mean over matched ops of |now - then| / then, per
class (matmul, attention), and the change in the sum of all ops. This is the floor under any per-op
MAPE a model can show against one run: the same op, measured the same way an hour apart, moves by
this much (the host is a shared 2-vCPU VM whose speed drifts; BENCHMARKS.md). Both runs must be
`bash benchmarks/cpu_validate.sh` runs (3 rounds, least over rounds of each round's median).
"""

from __future__ import annotations

import csv
import io
import statistics
import subprocess
import sys
from pathlib import Path

REPORTS = Path(__file__).resolve().parent.parent / "reports" / "validation"
CLASSES = ("matmul", "attention")


def _matched(text: str) -> dict[str, dict[str, str]]:
    return {r["graph_index"]: r for r in csv.DictReader(io.StringIO(text)) if r["status"] == "matched"}


def _at(commit: str, path: Path) -> str | None:
    rel = path.relative_to(REPORTS.parent.parent).as_posix()
    done = subprocess.run(["git", "show", f"{commit}:{rel}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def main(commit: str) -> int:
    per_class: dict[str, list[float]] = {c: [] for c in CLASSES}
    print("| workload | matmul MAPE | attention MAPE | sum of ops, now / then - 1 |\n|---|---:|---:|---:|")
    for path in sorted(REPORTS.glob("*.csv")):
        then_text = _at(commit, path)
        if then_text is None:
            continue
        then, now = _matched(then_text), _matched(path.read_text())
        errors: dict[str, list[float]] = {c: [] for c in CLASSES}
        total_then = total_now = 0.0
        for index, row in now.items():
            if index not in then:
                continue
            a, b = float(then[index]["measured_s"]), float(row["measured_s"])
            total_then, total_now = total_then + a, total_now + b
            if row["op_class"] in errors:
                errors[row["op_class"]].append(abs(b - a) / a)
        cells = []
        for c in CLASSES:
            cells.append(f"{statistics.mean(errors[c]):.1%}" if errors[c] else "-")
            if errors[c]:
                per_class[c].append(statistics.mean(errors[c]))
        print(f"| {path.stem.split('--')[0]} | {cells[0]} | {cells[1]} | {total_now / total_then - 1:+.1%} |")
    means = {c: f"{statistics.mean(v):.1%} over {len(v)} workloads" for c, v in per_class.items() if v}
    print("\nmean per-workload MAPE between the two runs: " + "; ".join(f"{c} {m}" for c, m in means.items()))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python benchmarks/op_reproducibility.py COMMIT", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1]))
