"""hwsim.calibrate.measure: rows per op and per step, a failing op recorded and skipped, resume after a kill.

Tiny models (one block) and 2 repetitions keep each test under a second; no test asserts a time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from hwsim.calibrate.measure import OPS, format_shapes, measure, parse_shapes, workload_label
from hwsim.calibrate.results import RowWriter, read_rows
from hwsim.errors import InputError
from hwsim.models import build_model
from hwsim.workload import load_workload

DECODE = ("llama-tiny-decode", ("model.layers=1",))


def _workload(name: str, overrides: tuple[str, ...] = ()):
    return load_workload(name, overrides)


def test_shapes_round_trip_and_labels() -> None:
    shapes = ((2, 32, 64), (), (64,))
    assert format_shapes(shapes) == "2x32x64;();64"
    assert parse_shapes(format_shapes(shapes)) == shapes
    assert parse_shapes("") == ()
    assert workload_label("llama-tiny-train") == "llama-tiny-train"
    assert workload_label("w", ["model.layers=2", "task.batch=4"]) == "w[model.layers=2,task.batch=4]"


def test_rows_per_op_and_step_then_a_rerun_measures_nothing(tmp_path: Path) -> None:
    m = measure(_workload(*DECODE), tmp_path, label="decode", reps=2)
    rows = read_rows(tmp_path / "ops.csv", OPS)
    kinds = [r["kind"] for r in rows]
    assert kinds[:2] == ["floor", "step"] and kinds[-1] == "ops"
    assert kinds.count("op") == len(m.ops) == rows[0]["ops"]
    assert [o.index for o in m.ops] == list(range(len(m.ops)))
    assert (tmp_path / "host.json").exists()
    assert m.step_status == "ok" and 0 < m.step_min_s <= m.step_median_s
    assert 0 < m.floor_min_s <= m.floor_median_s and m.ops_sum_min_s > 0
    for op in m.ops:
        assert op.status == "ok" and 0 < op.min_s <= op.median_s, op
    targets = {o.target for o in m.ops}
    # the real CPU run takes the CPU's fused kernel; the recorder's filter keeps views out
    assert "aten._scaled_dot_product_flash_attention_for_cpu.default" in targets
    assert not any(t.startswith(("aten.view", "aten.transpose", "aten.detach")) for t in targets)
    assert {o.phase for o in m.ops} == {"fwd"}
    assert any(o.scope == "layers.0.attn.wq" and o.target == "aten.mm.default" for o in m.ops)
    before = (tmp_path / "ops.csv").read_text()
    again = measure(_workload(*DECODE), tmp_path, label="decode", reps=2)
    assert (tmp_path / "ops.csv").read_text() == before
    assert again.ops == m.ops and again.step_min_s == m.step_min_s


def test_plain_and_op_timed_steps_alternate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow spell of the host must hit the plain steps and the timed ones alike (measure's doc)."""
    measure_module = sys.modules[measure.__module__]  # hwsim.calibrate.measure (a function shadows it)

    order: list[str] = []
    plain = measure_module._plain_step
    monkeypatch.setattr(measure_module, "_plain_step", lambda *a: order.append("plain") or plain(*a))

    def hook(target: str, n: int) -> None:
        if not order or order[-1] != "timed":
            order.append("timed")

    measure(_workload(*DECODE), tmp_path, label="decode", reps=3, hook=hook)
    assert order == ["plain", "timed"] * 3


def test_training_step_measures_forward_backward_and_optimizer(tmp_path: Path) -> None:
    workload = _workload("llama-tiny-train", ("model.layers=1",))
    m = measure(workload, tmp_path, reps=2)
    assert {o.phase for o in m.ops} == {"fwd", "bwd", "optim"}
    assert all(o.status == "ok" for o in m.ops)
    with torch.device("meta"):
        params = len(list(build_model(workload.model, dtype="fp32").parameters()))
    # one fused update per parameter in every timed step: gradients are reset to None between steps
    assert sum(o.target == "hwsim.adamw_.default" for o in m.ops) == params


def test_missing_rows_are_measured_and_appended(tmp_path: Path) -> None:
    workload = _workload(*DECODE)
    full = measure(workload, tmp_path, reps=2)
    path = tmp_path / "ops.csv"
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:-4]  # the "ops" summary row and the last three op rows, as after a kill
    path.write_text("".join(kept))
    again = measure(workload, tmp_path, reps=2)
    after = path.read_text().splitlines(keepends=True)
    assert after[: len(kept)] == kept and len(after) == len(lines)
    assert [o.index for o in again.ops] == [o.index for o in full.ops]
    keys = [OPS.row_key(r) for r in read_rows(path, OPS)]
    assert len(keys) == len(set(keys))


def test_rows_for_another_op_sequence_are_refused(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    measure(_workload(*DECODE), tmp_path, label="w", reps=1)
    rows = read_rows(tmp_path / "ops.csv", OPS)
    (tmp_path / "ops.csv").unlink()
    with RowWriter(tmp_path / "ops.csv", OPS) as writer:
        writer.append(dict(rows[0], ops=5))
    with pytest.raises(InputError) as err:
        measure(_workload(*DECODE), tmp_path, label="w", reps=1)
    assert str(err.value) == (
        f"{tmp_path / 'ops.csv'}: w: expected measurements of the {rows[0]['ops']} ops this step runs now, "
        "got rows for 5 ops (the model or torch changed: delete its rows)"
    )


# A model whose attention calls the CUDA-only flash kernel: it traces on meta, and on the CPU that
# one op raises NotImplementedError ("Could not run ... with arguments from the 'CPU' backend").
_CUDA_ONLY = """
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(64, 32)
        self.qkv = nn.Linear(32, 96)
        self.head = nn.Linear(32, 64)

    def forward(self, tokens):
        b, t = tokens.shape
        q, k, v = self.qkv(self.embed(tokens)).view(b, t, 3, 2, 16).permute(2, 0, 3, 1, 4)
        out = torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, 0.0, True)[0]
        return self.head(out.transpose(1, 2).reshape(b, t, 32))


def build():
    return Model()
"""


def test_an_op_the_device_cannot_run_is_recorded_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cuda_only_model.py").write_text(textwrap.dedent(_CUDA_ONLY))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("cuda_only_model", None)
    (tmp_path / "w.yaml").write_text(
        "schema: hwsim.workload/1\nmodel: {factory: 'cuda_only_model:build', vocab: 64}\n"
        "task: {mode: prefill, batch: 2, prompt_len: 8, dtype: fp32}\n"
    )
    from hwsim.models import trusting_factories

    with trusting_factories():  # the workload names a user factory
        m = measure(load_workload(tmp_path / "w.yaml"), tmp_path / "m", reps=2)
    failed = [o for o in m.ops if o.status == "failed"]
    assert [o.target for o in failed] == ["aten._scaled_dot_product_flash_attention.default"]
    assert failed[0].error.startswith(
        "NotImplementedError: Could not run 'aten::_scaled_dot_product_flash_attention'"
    )
    rest = [o for o in m.ops if o.status == "ok"]
    assert len(rest) >= 4 and all(o.min_s > 0 for o in rest)  # the ops after it ran on its stand-in outputs
    assert rest[-1].scope == "head"
    assert m.step_status == "failed" and m.step_error.startswith("NotImplementedError")


def test_an_injected_failure_fails_that_op_only(tmp_path: Path) -> None:
    first: list[int] = []  # the call number of the step's first matmul

    def hook(target: str, n: int) -> None:
        if target == "aten.mm.default" and first in ([], [n]):
            first[:] = [n]
            raise RuntimeError("injected: out of memory\nsecond line")

    m = measure(_workload(*DECODE), tmp_path, reps=2, hook=hook)
    failed = [o for o in m.ops if o.status == "failed"]
    assert len(failed) == 1 and failed[0].error == "RuntimeError: injected: out of memory"
    assert m.step_status == "ok" and sum(o.status == "ok" for o in m.ops) == len(m.ops) - 1


_SLOW = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from hwsim.calibrate.measure import measure
    from hwsim.workload import load_workload
    for batch in (1, 2, 3):
        w = load_workload("llama-tiny-decode", [f"task.batch={batch}", "model.layers=1"])
        measure(w, Path(sys.argv[1]), label=f"b{batch}", reps=2, hook=lambda t, n: time.sleep(0.002))
    """
)


def test_a_killed_run_keeps_its_rows_and_a_rerun_resumes(tmp_path: Path) -> None:
    csv_path = tmp_path / "ops.csv"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW, str(tmp_path)], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if csv_path.exists() and "\nb2,step," in csv_path.read_text():  # the second workload has begun
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    complete = [line for line in csv_path.read_text().splitlines(keepends=True) if line.endswith("\n")]
    labels = {line.split(",")[0] for line in complete[1:]}
    assert "b1" in labels and "b3" not in labels, "the run should have been killed in the second workload"
    for batch in (1, 2, 3):
        w = load_workload("llama-tiny-decode", [f"task.batch={batch}", "model.layers=1"])
        m = measure(w, tmp_path, label=f"b{batch}", reps=2)
        assert all(o.status == "ok" for o in m.ops)
    lines = csv_path.read_text().splitlines(keepends=True)
    assert lines[: len(complete)] == complete  # rows written before the kill are untouched
    keys = [OPS.row_key(r) for r in read_rows(csv_path, OPS)]
    assert len(keys) == len(set(keys)) == 3 * (3 + len(m.ops))  # step, floor, ops-sum rows + ops


def test_fresh_measures_one_workload_again_and_keeps_the_others(tmp_path: Path) -> None:
    measure(_workload(*DECODE), tmp_path, label="a", reps=1)
    measure(_workload(*DECODE), tmp_path, label="b", reps=1)
    rows_a = [r for r in read_rows(tmp_path / "ops.csv", OPS) if r["workload"] == "a"]
    again = measure(_workload(*DECODE), tmp_path, label="b", reps=2, fresh=True)
    rows = read_rows(tmp_path / "ops.csv", OPS)
    assert [r for r in rows if r["workload"] == "a"] == rows_a
    assert {r["reps"] for r in rows if r["workload"] == "b"} == {2} and again.reps == 2
    assert len(rows) == 2 * len(rows_a)


def test_calibration_microbenchmarks_are_retimed_with_the_measurement(tmp_path: Path) -> None:
    benches = [("launch", "fp32", (1,)), ("gemm", "fp32", (16, 16, 16))]
    m = measure(_workload(*DECODE), tmp_path, reps=1, benches=benches)
    assert set(m.benches) == {"launch fp32 1", "gemm fp32 16x16x16"} and all(
        t > 0 for t in m.benches.values()
    )
    before = (tmp_path / "ops.csv").read_text()
    assert measure(_workload(*DECODE), tmp_path, reps=1, benches=benches).benches == m.benches
    assert (tmp_path / "ops.csv").read_text() == before
