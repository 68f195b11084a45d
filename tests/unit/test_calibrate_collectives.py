"""hwsim.calibrate.collectives: nccl-tests bandwidth factors and a tiny real two-process gloo run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch.multiprocessing

from hwsim.calibrate.collectives import BUS_FACTOR, COLLECTIVES, run_collectives


def test_bus_factors_follow_nccl_tests() -> None:
    assert BUS_FACTOR("all_reduce", 2) == 1.0
    assert BUS_FACTOR("all_reduce", 8) == 2 * 7 / 8
    for name in ("all_gather", "reduce_scatter", "all_to_all"):
        assert BUS_FACTOR(name, 8) == 7 / 8
    with pytest.raises(ValueError):
        BUS_FACTOR("broadcast", 2)


def test_two_real_processes_measure_every_collective(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv_path = tmp_path / "collectives.csv"
    rows = run_collectives(csv_path, sizes=[4096, 65536])
    assert [(r["collective"], r["bytes"]) for r in rows] == [
        (c, s) for c in COLLECTIVES for s in (4096, 65536)
    ]
    for r in rows:
        assert r["status"] == "ok" and r["backend"] == "gloo" and r["world_size"] == 2 and r["reps"] >= 10
        assert 0 < r["min_s"] <= r["median_s"]
        assert r["algbw"] == pytest.approx(r["bytes"] / r["min_s"], rel=1e-4)
        assert r["busbw"] == pytest.approx(r["algbw"] * BUS_FACTOR(r["collective"], 2), rel=1e-4)

    def no_spawn(*args, **kwargs):
        raise AssertionError("everything was measured: nothing to spawn")

    monkeypatch.setattr(torch.multiprocessing, "start_processes", no_spawn)
    assert run_collectives(csv_path, sizes=[4096, 65536]) == rows
