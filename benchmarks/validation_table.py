"""The CPU validation table of BENCHMARKS.md, from the reports `benchmarks/cpu_validate.sh` wrote.

    python benchmarks/validation_table.py [reports/validation]

One row per workload of the script, in its order, with its set (dev or fresh, as the script's blocks
say), then the mean |end-to-end error| and the targets met per set. Nothing is measured here: every
figure is read from the workload's `hwsim.validation/1` JSON report.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

from hwsim.calibrate.measure import workload_label

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "cpu_validate.sh"
TARGET = 0.10  # issue 4: per-op MAPE (matmul, attention) and end-to-end |error|


def script_workloads() -> list[tuple[str, str, list[str]]]:
    """(set, workload, overrides) for every `run` line of cpu_validate.sh, in order."""
    text = SCRIPT.read_text().replace("\\\n", " ")
    out: list[tuple[str, str, list[str]]] = []
    current = ""
    for line in text.splitlines():
        block = re.search(r"\$which_set == (\w+)", line)
        if block:
            current = block.group(1)
        words = shlex.split(line.strip()) if line.strip().startswith("run ") else []
        if words:
            overrides = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
            out.append((current, words[1], overrides))
    return out


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{100 * x:+.1f}%" if signed else f"{100 * x:.1f}%"


def main(folder: Path) -> int:
    sets: dict[str, list[dict]] = {}
    print("| set | workload | measured step (noise) | estimated | end-to-end error | matmul MAPE (noise) "
          "| attention MAPE (noise) | drift: launch, GEMM, copy |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---|")
    docs = (json.loads(path.read_text()) for path in sorted(folder.glob("*.json")))
    reports = {doc["label"]: doc for doc in docs}
    for which, name, overrides in script_workloads():
        label = workload_label(name, overrides)
        doc = reports.get(label)
        if doc is None:
            print(f"| {which} | `{label}` | not validated | | | | | |")
            continue
        sets.setdefault(which, []).append(doc)
        e2e, classes = doc["end_to_end"], doc["classes"]

        def mape(c: str, classes: dict = classes) -> str:
            x = classes.get(c)
            return "-" if not x or x["mape"] is None else f"{_pct(x['mape'])} ({_pct(x['noise'])})"

        drift = ", ".join(f"{100 * v:+.0f}%" for v in doc["drift"].values())
        args = " ".join([name] + [f"--set {o}" for o in overrides])
        print(f"| {which} | `{args}` | {1e3 * e2e['measured_s']:.2f} ms ({_pct(e2e['noise'])}) | "
              f"{1e3 * e2e['estimated_s']:.2f} ms | {_pct(e2e['error'], True)} | {mape('matmul')} | "
              f"{mape('attention')} | {drift} |")  # fmt: skip
    print()
    for which, docs in sets.items():
        errors = [abs(d["end_to_end"]["error"]) for d in docs]
        met = {k: sum(bool(d["targets"].get(k, {}).get("met")) for d in docs)
               for k in ("end_to_end_error", "matmul_mape", "attention_mape")}  # fmt: skip
        print(f"- {which}: {len(docs)} workloads, mean |end-to-end error| {_pct(sum(errors) / len(errors))}, "
              f"within {_pct(TARGET)}: end to end {met['end_to_end_error']}, matmul MAPE "
              f"{met['matmul_mape']}, attention MAPE {met['attention_mape']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "reports" / "validation"))
