"""Single-device estimate on hand-built graphs: roofline arithmetic, bounds, memory verdict, dtype checks."""

import math

import pytest

from hwsim.cost.calibration import load_calibration
from hwsim.errors import InputError
from hwsim.estimate import estimate, module_of
from hwsim.hardware.spec import Device
from hwsim.ir import Graph, MemoryFacts, Op, TensorMeta

H100 = Device(
    name="h100_test",
    kind="gpu",
    vendor="NVIDIA",
    description="H100-like",
    matrix_flops={"bf16": 989e12, "fp8": 1979e12},
    memory_capacity=80e9,
    memory_bandwidth=3.35e12,
)
A100 = Device(
    name="a100_test",
    kind="gpu",
    vendor="NVIDIA",
    description="A100-like",
    matrix_flops={"bf16": 312e12},
    memory_capacity=80e9,
    memory_bandwidth=2.0e12,
)
CPU = Device(
    name="cpu_test",
    kind="cpu",
    vendor="x",
    description="cpu",
    matrix_flops={"fp32": 1e11},
    memory_capacity=1e10,
    memory_bandwidth=1e10,
)


def matmul(i: int, m: int, n: int, k: int, dtype: str = "bf16", scope: str = "layers.0.mlp") -> Op:
    a, b, c = (
        TensorMeta(shape=(m, k), dtype=dtype),
        TensorMeta(shape=(k, n), dtype=dtype),
        TensorMeta(shape=(m, n), dtype=dtype),
    )
    return Op(
        id=i,
        target="aten.mm.default",
        op_class="matmul",
        phase="fwd",
        scope=scope,
        inputs=(a, b),
        outputs=(c,),
        flop=2.0 * m * n * k,
        bytes_read=a.nbytes + b.nbytes,
        bytes_written=c.nbytes,
        dtype=dtype,
    )


def add(i: int, numel: int) -> Op:
    t = TensorMeta(shape=(numel,), dtype="bf16")
    return Op(
        id=i,
        target="aten.add.Tensor",
        op_class="elementwise",
        phase="fwd",
        scope="layers.1.mlp",
        inputs=(t, t),
        outputs=(t,),
        flop=numel,
        bytes_read=2 * t.nbytes,
        bytes_written=t.nbytes,
        dtype="bf16",
    )


def graph(*ops: Op, mode: str = "train", weights: float = 1e9, dtype: str = "bf16") -> Graph:
    return Graph(
        name="hand",
        mode=mode,
        ops=ops,
        params=10,
        active_params=10,
        tokens=100,
        batch=1,
        dtype=dtype,
        memory=MemoryFacts(weights=weights),
    )


def test_large_gemm_on_h100_is_compute_bound_at_the_calibrated_rate() -> None:
    g = graph(matmul(0, 8192, 8192, 8192))
    est = estimate(g, H100)
    cal = est.calibration
    ideal = 2 * 8192**3 / 989e12
    expected = ideal / cal.entry("matmul", "bf16")(ideal) + cal.launch_overhead
    assert est.step_time_s == pytest.approx(expected)
    assert est.bound == "compute"
    assert est.op_costs[0].compute_s > 10 * est.op_costs[0].memory_s
    assert est.hfu == pytest.approx(g.total() / (est.step_time_s * 989e12))


def test_elementwise_is_memory_bound_at_calibrated_bandwidth() -> None:
    est = estimate(graph(add(0, 100_000_000)), H100)
    bytes_moved = 3 * 2 * 100_000_000
    best = est.calibration.entry("elementwise", "bf16").best
    assert est.step_time_s == pytest.approx(bytes_moved / (3.35e12 * best) + est.calibration.launch_overhead)
    assert est.bound == "memory"
    assert est.mfu == 0.0  # no matmul or attention: no model FLOPs


def test_tiny_op_is_overhead_bound() -> None:
    est = estimate(graph(add(0, 16)), H100)
    assert est.bound == "overhead"


def test_skinny_decode_matmul_is_memory_bound() -> None:
    est = estimate(graph(matmul(0, 1, 8192, 8192), mode="decode"), H100)
    assert est.op_costs[0].bound == "memory"
    assert est.tpot_s == est.step_time_s and est.ttft_s is None


def test_breakdowns_add_up_to_step_time() -> None:
    est = estimate(
        graph(matmul(0, 4096, 4096, 4096), add(1, 10_000_000), matmul(2, 64, 64, 64, scope="layers.12.attn")),
        H100,
    )
    for key, parts in est.time_breakdown_s.items():
        assert sum(parts.values()) == pytest.approx(est.step_time_s), key
    assert set(est.time_breakdown_s["module"]) == {"layers.*.mlp", "layers.*.attn"}


def test_module_of_folds_layer_indices() -> None:
    assert module_of("layers.3.attn.wq") == "layers.*.attn.wq"
    assert module_of("model.layers.10.mlp") == "model.layers.*.mlp"
    assert module_of("") == "(top level)"


def test_does_not_fit_is_an_answer_with_the_shortfall() -> None:
    est = estimate(graph(add(0, 1000), weights=100e9), H100)
    assert not est.memory.fits
    assert est.memory.shortfall_bytes == pytest.approx(20e9)
    assert est.to_json()["memory"]["fits"] is False


def test_fp8_on_a100_is_refused_with_one_line() -> None:
    with pytest.raises(InputError) as info:
        estimate(graph(matmul(0, 64, 64, 64, dtype="fp8"), dtype="fp8"), A100)
    assert str(info.value) == (
        'workload hand: task.dtype: expected a dtype a100_test computes in (bf16), got "fp8" '
        "(a100_test has no fp8 units in its datasheet)"
    )


def test_calibration_for_another_kind_is_refused() -> None:
    with pytest.raises(InputError) as info:
        estimate(
            graph(matmul(0, 64, 64, 64, dtype="fp32"), dtype="fp32"), CPU, load_calibration("default-gpu")
        )
    assert 'applies_to.kind: expected a calibration for a cpu (the device cpu_test), got "gpu"' in str(
        info.value
    )


def test_json_has_the_documented_keys() -> None:
    doc = estimate(graph(matmul(0, 1024, 1024, 1024)), H100).to_json()
    for key in (
        "schema",
        "step_time_s",
        "tokens_per_s",
        "model_flop",
        "hardware_flop",
        "mfu",
        "hfu",
        "tflops_per_device",
        "ttft_s",
        "tpot_s",
        "memory",
        "time_breakdown_s",
        "bound",
        "uncosted_ops",
    ):
        assert key in doc
    assert doc["schema"] == "hwsim.estimate/1"


def _calibration(tmp_path, extra: str):  # noqa: ANN001, ANN202
    path = tmp_path / "cal.yaml"
    path.write_text(
        "schema: hwsim.calibration/1\napplies_to: {kind: cpu}\nsources: [test]\nlaunch_overhead: 1 us\n"
        + extra
        + "efficiency:\n  default: {default: {best: 0.5}}\n  matmul: {default: {best: 1.0}}\n"
    )
    return load_calibration(path)


def test_eager_overhead_adds_to_every_op_on_a_cpu_and_is_kept_out_of_op_times(tmp_path) -> None:  # noqa: ANN001
    cal = _calibration(tmp_path, "eager_overhead: {train: 10 us, inference: 4 us}\n")
    ops = (matmul(0, 100, 100, 100, dtype="fp32"), matmul(1, 100, 100, 100, dtype="fp32"))
    kernel = 3 * 4 * 100 * 100 / (1e10 * 0.5)  # memory-bound: 120 kB at 5 GB/s = 24 us (compute 20 us)
    train = estimate(graph(*ops, dtype="fp32"), CPU, cal)
    assert train.eager_overhead_s == pytest.approx(10e-6)
    assert train.step_time_s == pytest.approx(2 * (kernel + 1e-6 + 10e-6))
    assert train.op_time_s(0) == pytest.approx(kernel + 1e-6)  # what the per-op timer sees
    assert train.framework_s == pytest.approx(20e-6)
    assert train.time_breakdown_s["bound"]["framework"] == pytest.approx(20e-6)
    assert sum(train.op_time_s(i) for i in range(2)) + train.framework_s == pytest.approx(train.step_time_s)
    infer = estimate(graph(*ops, mode="prefill", dtype="fp32"), CPU, cal)
    assert infer.step_time_s == pytest.approx(2 * (kernel + 1e-6 + 4e-6))


def test_backward_and_memory_variants_replace_their_class_entry(tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    cal = _calibration(tmp_path, "")
    skinny = matmul(0, 1, 1000, 1000, dtype="fp32")  # 4 MB of weights: memory-bound
    plain = estimate(graph(skinny, dtype="fp32"), CPU, cal).costs[0]
    assert plain.bound == "memory" and plain.memory_s == pytest.approx(skinny.bytes / (1e10 * 0.5))
    path = tmp_path / "cal.yaml"
    variants = "  matmul_memory: {default: {best: 0.25}}\n  matmul_bwd: {default: {best: 0.5}}\n"
    path.write_text(path.read_text() + variants)
    cal2 = load_calibration(path)
    assert estimate(graph(skinny, dtype="fp32"), CPU, cal2).costs[0].memory_s == pytest.approx(
        skinny.bytes / (1e10 * 0.25)
    )
    big = matmul(0, 1000, 1000, 1000, dtype="fp32")
    fwd = estimate(graph(big, dtype="fp32"), CPU, cal2).costs[0].compute_s
    bwd = estimate(graph(replace(big, phase="bwd"), dtype="fp32"), CPU, cal2).costs[0].compute_s
    assert bwd == pytest.approx(2 * fwd)


def test_an_unfused_op_is_costed_as_its_passes(tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    norm = replace(
        add(0, 1000),
        target="hwsim.rms_norm.default",
        op_class="norm",
        dtype="fp32",
        attrs={"passes": [["elementwise", 1000.0, 8000.0], ["reduction", 1000.0, 4000.0]]},
    )
    fused = estimate(graph(norm, dtype="fp32"), CPU, _calibration(tmp_path, "")).costs[0]
    assert fused.memory_s == pytest.approx(norm.bytes / (1e10 * 0.5))
    cal = _calibration(tmp_path, "unfused_ops: [hwsim.rms_norm.default]\n")
    unfused = estimate(graph(norm, dtype="fp32"), CPU, cal).costs[0]
    assert unfused.memory_s == pytest.approx(12000 / (1e10 * 0.5) + 1e-6)  # two passes, one extra launch


def test_an_unfused_op_with_an_entry_of_its_own_is_costed_by_the_entry(tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    passes = [["elementwise", 1000.0, 8000.0], ["reduction", 1000.0, 4000.0]]
    norm = replace(add(0, 1000), target="hwsim.rms_norm.default", op_class="norm", dtype="fp32",
                   attrs={"passes": passes})  # fmt: skip
    own = 'op_entries:\n  "hwsim.rms_norm.default": {default: {best: 0.01}}\n'
    cal = _calibration(tmp_path, "unfused_ops: [hwsim.rms_norm.default]\n" + own)
    cost = estimate(graph(norm, dtype="fp32"), CPU, cal).costs[0]
    assert cost.memory_s == pytest.approx(norm.bytes / (1e10 * 0.01))  # measured on the op, not its passes


def test_an_activation_with_an_entry_of_its_own_is_costed_by_it(tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    tanh_gelu = replace(add(0, 1000), target="aten.gelu.default", dtype="fp32", attrs={"approximate": "tanh"})
    exact_gelu = replace(tanh_gelu, id=1, attrs={})
    cal = _calibration(tmp_path, 'op_entries:\n  "aten.gelu.default[tanh]": {default: {best: 0.05}}\n')
    costs = estimate(graph(tanh_gelu, exact_gelu, add(2, 1000), dtype="fp32"), CPU, cal).costs
    assert costs[0].memory_s == pytest.approx(tanh_gelu.bytes / (1e10 * 0.05))  # its own entry
    assert costs[1].memory_s == pytest.approx(exact_gelu.bytes / (1e10 * 0.5))  # no entry: its class's
    assert costs[2].memory_s == pytest.approx(exact_gelu.bytes / (1e10 * 0.5))


def test_residency_scales_the_streaming_ops_of_a_step_that_touches_little(tmp_path) -> None:  # noqa: ANN001
    skinny, square = matmul(0, 1, 1000, 1000, dtype="fp32"), matmul(1, 300, 300, 300, dtype="fp32")
    plain = estimate(graph(skinny, square, dtype="fp32"), CPU, _calibration(tmp_path, ""))
    traffic = skinny.bytes + square.bytes  # about 5 MB: inside the curve's first point
    cal = _calibration(tmp_path, "residency: [[8 MiB, 0.5], [64 MiB, 1]]\n")
    small = estimate(graph(skinny, square, dtype="fp32"), CPU, cal)
    assert traffic < 8 * 2**20 and list(small.costs.residency) == [0.5, 1.0]
    assert small.costs[0].kernel_s == pytest.approx(0.5 * plain.costs[0].kernel_s)  # streams: scaled
    assert small.costs[1].kernel_s == pytest.approx(plain.costs[1].kernel_s)  # 50 FLOP/B: not scaled
    assert small.to_json()["calibration"]["residency"] == {"traffic_bytes": traffic, "least_factor": 0.5}
    assert plain.to_json()["calibration"]["residency"]["least_factor"] == 1.0  # no curve
    big = [matmul(i, 1, 4000, 4000, dtype="fp32") for i in range(2)]  # 128 MB: past the curve's end
    assert estimate(graph(*big, dtype="fp32"), CPU, cal).costs.residency_json()["least_factor"] == 1.0


def test_host_cold_adds_to_small_ops_at_the_bytes_since_their_targets_last_call(tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    small, big = replace(add(0, 1000), dtype="fp32"), matmul(1, 1, 4000, 4000, dtype="fp32")
    other = replace(small, id=2, target="aten.mul.Tensor")
    ops = (small, big, replace(small, id=3), other)  # add, a 64 MB GEMV, add, mul
    cal = _calibration(tmp_path, "host_cold:\n  aten: [[12 kB, 0 s], [1 GB, 10 us]]\n")
    plain = estimate(graph(*ops, dtype="fp32"), CPU, _calibration(tmp_path, ""))
    cold = estimate(graph(*ops, dtype="fp32"), CPU, cal)
    host = cold.costs.host_s
    at = lambda nbytes: 10e-6 * math.log(nbytes / 12e3) / math.log(1e9 / 12e3)  # noqa: E731
    # the first add: from the second add in the previous step (its 12 kB); the GEMM: a compute op,
    # none; the second add: the first add and the GEMV; the mul, called once: the whole step
    assert host[0] == pytest.approx(0.0, abs=1e-12) and host[1] == 0.0
    assert host[2] == pytest.approx(at(small.bytes + big.bytes))
    assert host[3] == pytest.approx(at(3 * small.bytes + big.bytes))
    assert cold.op_time_s(2) == pytest.approx(plain.op_time_s(2) + host[2])  # host time in the op's time
    assert cold.step_time_s == pytest.approx(plain.step_time_s + host.sum())
    assert cold.to_json()["calibration"]["host_cold"] == {"total_s": pytest.approx(host.sum()),
                                                          "most_s": pytest.approx(host.max())}  # fmt: skip
    assert plain.costs.host_s is None and plain.to_json()["calibration"]["host_cold"]["total_s"] == 0.0
    # each op also brings in op_bytes of host state: the second add's distance counts two ops' worth
    with_state = "host_cold:\n  op_bytes: 1 MB\n  aten: [[12 kB, 0 s], [1 GB, 10 us]]\n"
    host = estimate(graph(*ops, dtype="fp32"), CPU, _calibration(tmp_path, with_state)).costs.host_s
    assert host[2] == pytest.approx(at(small.bytes + big.bytes + 2e6))


def test_residency_reads_a_gemm_at_its_rows_and_other_ops_at_the_fewest(tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    def mm(i: int, m: int) -> Op:  # attrs as hwsim.trace.rules records them for aten.mm
        attrs = {"m": m, "n": 1000, "k": 1000, "batch": 1}
        return replace(matmul(i, m, 1000, 1000, dtype="fp32"), attrs=attrs)

    ops = (mm(0, 1), mm(1, 4), mm(2, 16), replace(add(3, 1000), dtype="fp32"))
    cal = _calibration(tmp_path, "residency:\n  1: [[64 MiB, 0.4]]\n  16: [[64 MiB, 0.8]]\n")
    factors = estimate(graph(*ops, dtype="fp32"), CPU, cal).costs.residency
    assert list(factors) == pytest.approx([0.4, (0.4 * 0.8) ** 0.5, 0.8, 0.4])  # 4 rows: halfway in log-log


def test_skinny_factor_limits_gemms_by_their_smallest_dimension(tmp_path) -> None:  # noqa: ANN001
    cal = _calibration(tmp_path, "matmul_skinny: {default: [[1, 0.1], [100, 0.5], [1000, 0.9]]}\n")

    # attrs as hwsim.trace.rules records them for aten.mm
    def mm(m: int, n: int, k: int) -> Op:
        from dataclasses import replace

        return replace(matmul(0, m, n, k, dtype="fp32"), attrs={"m": m, "n": n, "k": k, "batch": 1})

    def compute_s(op: Op) -> float:
        return estimate(graph(op, dtype="fp32"), CPU, cal).costs[0].compute_s

    midway = (0.1 * 0.5) ** 0.5  # 10 rows: halfway between 1 and 100 in log-log
    assert compute_s(mm(10, 4000, 4000)) == pytest.approx(op_flop(10, 4000, 4000) / (1e11 * midway))
    assert compute_s(mm(4000, 4000, 4000)) == pytest.approx(op_flop(4000, 4000, 4000) / 1e11)  # beyond: 1
    assert compute_s(matmul(0, 10, 4000, 4000, dtype="fp32")) == pytest.approx(op_flop(10, 4000, 4000) / 1e11)


def op_flop(m: int, n: int, k: int) -> float:
    return 2.0 * m * n * k


def test_attention_head_factor_scales_attention_by_its_head_size(tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    def attention(i: int, head_dim: int, phase: str = "fwd") -> Op:
        target = "aten._scaled_dot_product_flash_attention_for_cpu.default"
        op = matmul(i, 512, 512, 512, dtype="fp32")
        return replace(op, target=target, op_class="attention", phase=phase, attrs={"head_dim": head_dim})

    ops = (attention(0, 32), attention(1, 128), attention(2, 32, phase="bwd"))
    plain = estimate(graph(*ops, dtype="fp32"), CPU, _calibration(tmp_path, "")).costs
    heads = "attention_head:\n  attention: {default: [[32, 0.5], [128, 4]]}\n"  # on the default's best 0.5
    costs = estimate(graph(*ops, dtype="fp32"), CPU, _calibration(tmp_path, heads)).costs
    assert costs[0].compute_s == pytest.approx(2 * plain[0].compute_s)  # half the efficiency
    assert costs[1].compute_s == pytest.approx(plain[1].compute_s / 2)  # 0.5 x 4, capped at 1
    assert costs[2].compute_s == pytest.approx(plain[2].compute_s)  # no attention_bwd factors


def test_attention_size_head_reads_the_curve_at_one_heads_ideal_time(tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    target = "aten._scaled_dot_product_flash_attention_for_cpu.default"
    op = replace(matmul(0, 512, 512, 512, dtype="fp32"), target=target, op_class="attention",
                 attrs={"batch": 2, "heads": 4, "head_dim": 64})  # fmt: skip
    ideal = op.flop / 1e11  # 2.7 ms at the device's peak
    curve = "  attention: {default: {best: 1.0, curve: [[100 us, 0.1], [10 ms, 1]]}}\n"

    def compute_s(size: str) -> float:
        path = tmp_path / "cal.yaml"
        path.write_text(
            "schema: hwsim.calibration/1\napplies_to: {kind: cpu}\nsources: [test]\nlaunch_overhead: 1 us\n"
            + size
            + "efficiency:\n  default: {default: {best: 0.5}}\n"
            + curve
        )
        return estimate(graph(op, dtype="fp32"), CPU, load_calibration(path)).costs[0].compute_s

    def efficiency(x: float) -> float:  # the curve, a power law between its points
        return 0.1 * 10.0 ** (math.log(x / 100e-6) / math.log(100.0))

    assert compute_s("") == pytest.approx(ideal / efficiency(ideal))
    assert compute_s("attention_size: op\n") == pytest.approx(ideal / efficiency(ideal))
    assert compute_s("attention_size: head\n") == pytest.approx(ideal / efficiency(ideal / 8))  # 2 x 4 heads


def test_residency_shortens_only_the_dram_time_not_a_fixed_per_call_cost(tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    norm = replace(add(0, 2000), target="hwsim.rms_norm.default", op_class="norm", dtype="fp32")
    ideal = norm.bytes / 1e10  # 1.2 us at the device's bandwidth
    own = (
        'op_entries:\n  "hwsim.rms_norm.default": {default: {best: 0.5, curve: [[1 us, 0.01], [1 ms, 1]]}}\n'
    )
    plain = estimate(graph(norm, dtype="fp32"), CPU, _calibration(tmp_path, own)).costs[0]
    fraction = 0.5 * 0.01 * (100.0 ** (math.log(ideal / 1e-6) / math.log(1000.0)))  # the curve, log-log
    assert plain.memory_s == pytest.approx(ideal / fraction)  # ~200 us: mostly the op's per-call cost
    cal = _calibration(tmp_path, own + "residency: [[64 MiB, 0.5]]\n")
    cached = estimate(graph(norm, dtype="fp32"), CPU, cal).costs[0]
    assert cached.memory_s == pytest.approx(plain.memory_s - 0.5 * ideal / 0.5)  # half its DRAM time only
