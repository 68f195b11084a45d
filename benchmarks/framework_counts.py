"""Does framework time per op follow the views and module calls a model makes? (FINDINGS.md: no.)

    python benchmarks/framework_counts.py [reports/validation]

1. Times four variants of the eager module chain (hwsim.calibrate.eager: LayerNorm, Linear, GELU,
   Linear, add; 8 blocks of 16 wide on 8 rows): as calibrated, with functional calls instead of
   modules, with two extra view pairs per block, with each block wrapped in two more modules; each
   inference and training step counted (ATen ops, view ops, module calls) and timed (least of 15
   interleaved runs of 50 steps). Least squares gives seconds per op, per view and per module call
   beyond the launch overhead.
2. Counts the same on one real step of every workload in the validation reports and re-costs its
   framework time with those figures in place of the calibration's `eager_overhead` x ops,
   printing old and new end-to-end errors and the mean |error| (the reports' kernel estimates kept).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from hwsim.calibrate.measure import _Run
from hwsim.cost.calibration import load_calibration
from hwsim.trace.recorder import SKIPPED_TARGETS
from hwsim.workload import load_workload

ROOT = Path(__file__).resolve().parent.parent
WIDTH, ROWS = 16, 8
FEATURES = ("ops", "views", "modules")


class Block(nn.Module):
    def __init__(self, views: int = 0, functional: bool = False) -> None:
        super().__init__()
        self.norm, self.up = nn.LayerNorm(WIDTH), nn.Linear(WIDTH, 4 * WIDTH)
        self.down, self.views, self.functional = nn.Linear(4 * WIDTH, WIDTH), views, functional

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.views):
            x = x.view(ROWS, 4, WIDTH // 4).transpose(0, 1).transpose(0, 1).reshape(ROWS, WIDTH)
        if self.functional:
            h = F.layer_norm(x, (WIDTH,), self.norm.weight, self.norm.bias)
            h = F.gelu(F.linear(h, self.up.weight, self.up.bias))
            return x + F.linear(h, self.down.weight, self.down.bias)
        return x + self.down(F.gelu(self.up(self.norm(x))))


class Wrap(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


VARIANTS = {
    "as calibrated": lambda: Block(),
    "functional": lambda: Block(functional=True),
    "views": lambda: Block(views=2),
    "wrapped": lambda: Wrap(Wrap(Block())),
}


class Counter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.counts = dict.fromkeys(FEATURES, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        if func.is_view:
            self.counts["views"] += 1
        elif func not in SKIPPED_TARGETS:
            self.counts["ops"] += 1
        return func(*args, **(kwargs or {}))


def count(step) -> dict[str, int]:  # noqa: ANN001
    counter = Counter()
    hook = nn.modules.module.register_module_forward_pre_hook(
        lambda *_: counter.counts.__setitem__("modules", counter.counts["modules"] + 1)
    )
    try:
        with counter:
            step()
    finally:
        hook.remove()
    return counter.counts


def chain_step(model: nn.Module, x: torch.Tensor, train: bool):  # noqa: ANN201
    def step() -> None:
        if train:
            for p in model.parameters():
                p.grad = None
            model(x).sum().backward()
        else:
            with torch.no_grad():
                model(x)

    return step


def per_feature(launch: float) -> dict[str, np.ndarray]:
    """Seconds per op, view and module call (beyond `launch` per op), inference and training."""
    out = {}
    for mode, train in (("inference", False), ("train", True)):
        steps = {
            name: chain_step(nn.Sequential(*[make() for _ in range(8)]), torch.randn(ROWS, WIDTH), train)
            for name, make in VARIANTS.items()
        }
        counts = {name: count(step) for name, step in steps.items()}
        best = dict.fromkeys(steps, float("inf"))
        for _ in range(15):
            for name, step in steps.items():
                for _ in range(5):
                    step()
                start = time.perf_counter()
                for _ in range(50):
                    step()
                best[name] = min(best[name], (time.perf_counter() - start) / 50)
        a = np.array([[counts[n][f] for f in FEATURES] for n in steps], dtype=float)
        y = np.array([best[n] - launch * counts[n]["ops"] for n in steps])
        out[mode], *_ = np.linalg.lstsq(a, y, rcond=None)
        for n in steps:
            print(f"{mode:9} {n:13} {counts[n]} {best[n] * 1e6:7.1f} us a step")
        print(f"{mode}: " + ", ".join(f"per {f[:-1] if f != 'ops' else 'op'} {v * 1e6:.2f} us"
                                      for f, v in zip(FEATURES, out[mode], strict=True)))  # fmt: skip
    return out


def main(folder: Path) -> int:
    torch.set_num_threads(1)
    launch = load_calibration("fitted-intel_xeon_1t").launch_overhead
    coef = per_feature(launch)
    errors: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    for path in sorted(folder.glob("*.json")):
        report = json.loads(path.read_text())
        if report.get("schema") != "hwsim.validation/1":
            continue
        run = _Run(load_workload(report["workload"], report["overrides"]), "cpu")
        run.step()
        counts = count(run.step)
        mode = "train" if report["mode"] == "train" else "inference"
        e2e, graph_ops = report["end_to_end"], report["ops"]["graph"]
        scale = graph_ops / counts["ops"]  # the graph's op count, as the estimate's framework time uses
        framework = scale * float(np.dot(coef[mode], [counts[f] for f in FEATURES]))
        new = e2e["estimated_s"] - e2e["estimated_outside_ops_s"] + framework
        old_error, new_error = e2e["error"], new / e2e["measured_s"] - 1
        errors["old"].append(abs(old_error))
        errors["new"].append(abs(new_error))
        print(f"{report['label'][:70]:70} {old_error:+7.1%} -> {new_error:+7.1%}")
    for key, values in errors.items():
        within = sum(v <= 0.1 for v in values)
        print(f"{key}: mean |error| {np.mean(values):.1%} over {len(values)}, {within} within 10%")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "reports" / "validation"))
