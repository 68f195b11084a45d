"""Estimates of shipped workloads: the regimes a reader can check by hand."""

import pytest

from hwsim.cost.calibration import default_calibration
from hwsim.estimate import estimate
from hwsim.hardware.loader import load_system
from hwsim.trace import trace_workload
from hwsim.workload import load_workload


@pytest.mark.parametrize("launch", ["eager", "graph"])
def test_batch1_decode_is_memory_bound_at_weights_plus_kv_over_bandwidth(launch: str) -> None:
    """A batch-1 decode step reads every weight and the whole KV cache once: its time is those bytes
    over the achieved bandwidth (datasheet x the calibration's memory efficiency), within 15%."""
    graph = trace_workload(
        load_workload("llama2-7b-decode", overrides=("task.batch=1", f"task.launch={launch}"))
    )
    h100 = load_system("h100_sxm")
    est = estimate(graph, h100)
    assert est.bound == "memory"
    achieved = h100.memory_bandwidth * default_calibration("h100_sxm", "gpu").entry("default", "fp16").best
    floor = (graph.memory.weights + graph.memory.kv_cache) / achieved
    assert est.step_time_s == pytest.approx(floor, rel=0.15)
    assert est.step_time_s >= (graph.memory.weights + graph.memory.kv_cache) / h100.memory_bandwidth


def test_large_training_step_is_compute_bound_on_h100() -> None:
    est = estimate(
        trace_workload(load_workload("gpt2-124m-train", overrides=("task.batch=8",))), load_system("h100_sxm")
    )
    assert est.bound == "compute"
    assert 0.2 < est.mfu < 0.8
    assert est.hfu >= est.mfu


def test_more_bandwidth_makes_decode_faster() -> None:
    # bf16: the H200 datasheet figures hwsim copies list no fp16 rate
    decode = trace_workload(load_workload("llama2-7b-decode", overrides=("task.batch=1", "task.dtype=bf16")))
    h100, h200 = load_system("h100_sxm"), load_system("h200_sxm")  # same FLOP/s, 4.8 vs 3.35 TB/s
    # not the full 3.35/4.8 = 0.70: eager launches and the lower measured H200 memory efficiency remain
    assert estimate(decode, h200).step_time_s < 0.9 * estimate(decode, h100).step_time_s
