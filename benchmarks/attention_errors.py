"""Per-op error of the attention ops in the CPU validation reports, by kind of attention op.

    python benchmarks/attention_errors.py [reports/validation]

Reads every validation CSV in the folder (each matched op's measured and estimated seconds; nothing
is measured) and prints, for causal forward, causal backward and one-query (decode) attention ops,
how many there are, their mean signed error and their MAPE (mean |estimated - measured| / measured),
and the same per shape. Why by kind: one calibration curve costs the first two and a different
mechanism the third (a decode op reads a KV cache of a few hundred kB once per head), so a MAPE over
all attention ops mixes errors of different causes.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("causal forward", "causal backward", "one-query decode")


def kind_of(row: dict[str, str]) -> str:
    query = row["shapes"].split(", ")[0].split("x")
    if row["phase"] == "bwd":
        return KINDS[1]
    return KINDS[2] if query[2] == "1" else KINDS[0]


def shape_of(row: dict[str, str]) -> str:
    """batch x heads x query length x head size, and the key length."""
    shapes = row["shapes"].split(", ")
    return f"{shapes[0]} (keys {shapes[1].split('x')[2]})"


def main(folder: Path) -> int:
    errors: dict[str, dict[str, list[float]]] = {k: defaultdict(list) for k in KINDS}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("op_class") == "attention" and row.get("status") == "matched":
                    errors[kind_of(row)][shape_of(row)].append(float(row["error"]))
    print("| attention ops | ops | mean error | MAPE |")
    print("|---|---:|---:|---:|")
    for kind in KINDS:
        values = [e for by_shape in errors[kind].values() for e in by_shape]
        if values:
            mean = 100 * sum(values) / len(values)
            mape = 100 * sum(abs(e) for e in values) / len(values)
            print(f"| {kind} | {len(values)} | {mean:+.1f}% | {mape:.1f}% |")
    for kind in KINDS:
        print(f"\n{kind}, per shape (mean error over its ops):")
        for shape, values in sorted(errors[kind].items()):
            print(f"  {shape}: {100 * sum(values) / len(values):+.1f}% over {len(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "reports" / "validation"))
