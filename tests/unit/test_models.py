"""The zoo runs for real on the CPU through the same step code the tracer runs on meta, and counts
the published number of parameters."""

from __future__ import annotations

import pytest
import torch

from hwsim.models import build_model, parameter_counts
from hwsim.models.ops import rms_norm
from hwsim.trace.step import make_state, run_step, run_workload
from hwsim.workload import load_workload

TINY = ["gpt-tiny-train", "llama-tiny-train", "mixtral-tiny-train", "llama-tiny-prefill", "llama-tiny-decode"]


@pytest.fixture(autouse=True)
def one_thread():
    """Two threads on a shared 2-core machine spin-wait (tracing-facts.md); one is faster."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("stem", TINY)
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_tiny_models_run_a_real_step_on_the_cpu(stem: str, dtype: str) -> None:
    workload = load_workload(stem, [f"task.dtype={dtype}"])
    out = run_workload(workload, "cpu")
    assert torch.isfinite(out.float()).all()
    if workload.task.mode == "train":
        assert out.dim() == 0
    else:
        assert out.shape == (workload.task.batch, 1, workload.model.vocab)


def test_training_step_updates_parameters_with_fp32_master_weights() -> None:
    workload = load_workload("llama-tiny-train", ["task.dtype=bf16"])
    model = build_model(workload.model, dtype="bf16")
    state = make_state(model, workload, "cpu")
    before = model.lm_head.weight.detach().clone()
    run_step(model, state, workload)
    _, param, master, m, v = state.optimizer.entries[-1]
    assert param is model.lm_head.weight and master.dtype == torch.float32
    assert m.abs().sum() > 0 and v.abs().sum() > 0
    assert not torch.equal(before, model.lm_head.weight)
    assert torch.equal(master.to(torch.bfloat16), model.lm_head.weight.detach())


@pytest.mark.parametrize("stem", ["llama-tiny-train", "gpt-tiny-train"])
def test_kv_cache_decode_matches_a_full_forward(stem: str) -> None:
    workload = load_workload(stem)
    spec = workload.model
    torch.manual_seed(0)
    model = build_model(spec, dtype="fp32").eval()
    tokens = torch.randint(0, spec.vocab, (2, 9))
    kv_heads = spec.kv_heads or spec.heads
    cache = [tuple(torch.zeros(2, kv_heads, 9, spec.head_dim) for _ in range(2)) for _ in range(spec.layers)]
    with torch.no_grad():
        full = model(tokens)
        prefill = model(tokens[:, :8], cache=cache, start=0, last_only=True)
        decode = model(tokens[:, 8:], cache=cache, start=8, last_only=True)
    torch.testing.assert_close(prefill[:, 0], full[:, 7], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(decode[:, 0], full[:, 8], atol=1e-4, rtol=1e-4)


def test_rms_norm_gradients_match_autograd_of_the_formula() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)
    w = torch.randn(8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: rms_norm(a, b, 1e-6)[0], (x, w))


# Published totals: GPT-3 (Brown et al. 2020, Table 2.1); Llama 3 8B/70B (Hugging Face model cards:
# 8.03B, 70.6B); Llama 3.1 405B (Dubey et al. 2024); Mixtral 8x7B (Mistral AI: 46.7B total, 12.9B active).
PUBLISHED = {
    "gpt3-175b-train": (175.0e9, None),
    "llama3-8b-train": (8.03e9, None),
    "llama3-70b-train": (70.6e9, None),
    "llama3-405b-train": (405e9, None),
    "mixtral-8x7b-train": (46.7e9, 12.9e9),
}


@pytest.mark.parametrize("stem", sorted(PUBLISHED))
def test_parameter_counts_match_the_published_ones(stem: str) -> None:
    spec = load_workload(stem).model
    with torch.device("meta"):
        model = build_model(spec, dtype="bf16", layers=3)
    params, active = parameter_counts(model, spec)
    total, published_active = PUBLISHED[stem]
    assert abs(params / total - 1) < 0.005
    assert abs(active / (published_active or total) - 1) < 0.005


@pytest.mark.parametrize("mixed", [False, True])
def test_adamw_matches_torch_optim_adamw(mixed: bool) -> None:
    """The zoo's fused AdamW op takes the same step as torch.optim.AdamW over three steps."""
    from hwsim.models import ops

    torch.manual_seed(0)
    ref = torch.nn.Parameter(torch.randn(7, 5))
    opt = torch.optim.AdamW([ref], lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    master = ref.detach().clone()
    param = master.to(torch.bfloat16) if mixed else master.clone()
    m, v = torch.zeros_like(master), torch.zeros_like(master)
    for step in (1, 2, 3):
        grad = torch.randn(7, 5)
        ref.grad = grad.clone()
        opt.step()
        g = grad.to(param.dtype)
        ops.adamw_(param, g, master if mixed else None, m, v, 1e-2, 0.9, 0.95, 1e-8, 0.1, step)
        mine = master if mixed else param
        torch.testing.assert_close(mine, ref.detach(), rtol=0, atol=1e-2 if mixed else 1e-6)
    if mixed:
        assert param.dtype == torch.bfloat16
        torch.testing.assert_close(param, master.to(torch.bfloat16))
