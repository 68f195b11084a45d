"""Cost rules, dependency tracking and lifetimes on hand-checkable snippets."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hwsim.ir import TensorMeta
from hwsim.models import ops
from hwsim.trace.memory import live_peaks
from hwsim.trace.recorder import Rec, Recorder
from hwsim.trace.rules import attention_pairs


def meta(*shape: int, dtype: torch.dtype = torch.bfloat16, grad: bool = False) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device="meta", requires_grad=grad)


def test_mm_is_two_flops_per_multiply_add_and_moves_its_operands() -> None:
    a, b = meta(8, 16), meta(16, 4)
    with Recorder() as rec:
        torch.mm(a, b)
    [r] = rec.records
    assert (r.target, r.op_class, r.flop) == ("aten.mm.default", "matmul", 2 * 8 * 16 * 4)
    assert (r.bytes_read, r.bytes_written) == (2 * (8 * 16 + 16 * 4), 2 * 8 * 4)
    assert r.attrs == {"m": 8, "n": 4, "k": 16, "batch": 1}
    assert r.inputs == (TensorMeta(shape=(8, 16), dtype="bf16"), TensorMeta(shape=(16, 4), dtype="bf16"))


def test_views_are_free_and_keep_dependencies() -> None:
    x = meta(4, 6)
    with Recorder() as rec:
        y = x * 2
        z = y.t().reshape(6, 4)[1:]  # views only
        z + 1
    assert [r.target for r in rec.records] == ["aten.mul.Tensor", "aten.add.Tensor"]
    assert rec.records[1].deps == (0,)


def test_in_place_writer_is_a_dependency_of_later_readers() -> None:
    cache, new = meta(2, 8, 4), meta(2, 1, 4)
    with Recorder() as rec:
        k = new * 1
        cache[:, 3:4].copy_(k)
        cache[:, :4].sum()
    copy, total = rec.records[1], rec.records[2]
    assert copy.target == "aten.copy_.default" and copy.deps == (0,)
    assert (copy.bytes_read, copy.bytes_written) == (2 * 4 * 2, 2 * 4 * 2)  # the slice, not the cache
    assert total.deps == (1,)


def test_broadcast_operands_are_read_once() -> None:
    x, table = meta(2, 4, 8, 16), meta(8, 16).expand(2, 4, 8, 16)
    with Recorder() as rec:
        x * table
    assert rec.records[0].bytes_read == 2 * (2 * 4 * 8 * 16 + 8 * 16)


def test_gelu_keeps_its_approximation_for_the_pointwise_key() -> None:
    from hwsim.ir import op_entry_key

    x = meta(4, 8)
    with Recorder() as rec:
        F.gelu(x, approximate="tanh")
        F.gelu(x)
        F.silu(x)
    keys = [op_entry_key(r.target, r.attrs) for r in rec.records]
    assert keys == ["aten.gelu.default[tanh]", "aten.gelu.default", "aten.silu.default"]
    assert rec.records[0].flop == 9 * 32 and rec.records[1].attrs == {}


def test_attention_pairs_formula() -> None:
    assert attention_pairs(4, 4, causal=False) == 16
    assert attention_pairs(4, 4, causal=True) == 10  # 1 + 2 + 3 + 4
    assert attention_pairs(1, 9, causal=False) == 9
    assert attention_pairs(2, 5, causal=True) == 3  # top-left aligned, as SDPA's is_causal
    assert attention_pairs(5, 2, causal=True) == 3 + 3 * 2


def test_sdpa_becomes_the_fused_flash_kernel_forward_and_backward() -> None:
    q, k = meta(2, 4, 8, 16, grad=True), meta(2, 2, 8, 16, grad=True)
    v = meta(2, 2, 8, 16, grad=True)
    with Recorder() as rec:
        with rec.in_scope("attn"):
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            rec.tag(out)
        with rec.in_phase("bwd"):
            out.sum().backward()
    targets = [r.target for r in rec.records]
    assert targets[0] == "aten._scaled_dot_product_flash_attention.default"
    assert "aten._scaled_dot_product_flash_attention_backward.default" in targets
    assert not any("clone" in t or "bmm" in t for t in targets)  # no materialised GQA copy, no math path
    bwd = next(r for r in rec.records if r.target.endswith("attention_backward.default"))
    assert bwd.scope == "attn" and bwd.attrs["kv_heads"] == 2


def test_fused_adamw_moves_master_weights_and_moments() -> None:
    p, g = meta(10, 10), meta(10, 10)
    master, m, v = (meta(10, 10, dtype=torch.float32) for _ in range(3))
    with Recorder() as rec:
        ops.adamw_(p, g, master, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, 2)
    [r] = rec.records
    assert (r.op_class, r.flop) == ("optimizer", 14 * 100)
    assert r.bytes_read == 100 * (2 + 4 + 4 + 4)  # bf16 grad, fp32 master and moments
    assert r.bytes_written == 100 * (4 + 4 + 4 + 2)  # master, moments and the bf16 parameter copy


def test_an_op_without_a_rule_is_other_and_uncosted() -> None:
    x = meta(4, 4)
    with Recorder() as rec:
        torch.linalg.matrix_norm(x.float())
    uncosted = [r for r in rec.records if not r.costed]
    assert uncosted and all(r.op_class == "other" and r.flop == 0 for r in uncosted)
    r = uncosted[0]
    assert r.bytes_read + r.bytes_written > 0


def rec(phase: str, reads: tuple[int, ...], makes: tuple[tuple[int, float], ...]) -> Rec:
    return Rec(
        target="t",
        op_class="elementwise",
        phase=phase,
        scope="",
        inputs=(),
        outputs=(),
        flop=0.0,
        bytes_read=0.0,
        bytes_written=0.0,
        dtype="fp32",
        costed=True,
        attrs={},
        deps=(),
        reads=reads,
        makes=makes,
        layer=None,
    )


def test_lifetimes_split_saved_activations_from_transients() -> None:
    records = [
        rec("fwd", (), ((1, 100.0),)),  # saved: read by the backward
        rec("fwd", (1,), ((2, 10.0),)),  # temporary, read once below
        rec("fwd", (2,), ((3, 5.0),)),
        rec("bwd", (1, 3), ((4, 50.0),)),  # 3 is saved too
        rec("bwd", (4,), ((5, 1.0),)),  # 5 is a gradient: persistent
    ]
    activations, transient = live_peaks(records, persistent={5})
    assert activations == 105.0  # storages 1 and 3, alive together at the start of backward
    assert transient == 155.0 - 105.0  # peak of everything (1, 3, 4 at op 3) minus the activations
