"""Fused kernels the zoo calls as single operators: RMS norm (forward, backward) and the AdamW update.

Why custom operators: on a GPU these run as one fused kernel each (apex/Transformer Engine RMSNorm,
`torch.optim.AdamW(fused=True)`), but in plain torch on the meta device RMS norm decomposes into six
pointwise ops and the fused AdamW does not run at all. Registering them with `torch.library` gives the
tracer one operator per kernel (`hwsim.rms_norm.default`, `hwsim.rms_norm_backward.default`,
`hwsim.adamw_.default`) with a meta implementation, while the CPU/CUDA implementation runs real torch
kernels, so the same model also runs for real: torch's fused AdamW kernel, and RMS norm as plain torch
math (torch 2.13 has no fused RMS norm kernel on the CPU; hwsim.trace.lowering records the passes it
runs instead, for calibrations that say so).

Why the low-level `torch.library.Library` API and an autograd.Function rather than
`torch.library.custom_op`: the real run is timed against the estimate, and custom_op's Python
wrappers (mutation and alias checks, its autograd glue) cost more than the work on small tensors.
Measured on one Xeon core, 64x64 fp32, min of 5 x 2000 calls (torch 2.13): AdamW 68.6 us per call
through custom_op, 13.6 us through Library, 8.5 us for the bare function; RMS norm forward with
autograd 48.7 us against 32.5 us.

AdamW follows torch.optim.AdamW (decoupled weight decay, Loshchilov & Hutter 2019, arXiv:1711.05101).
With a `master` tensor (mixed precision, Micikevicius et al. 2018, arXiv:1710.03740) the update is
done on the fp32 master weights and moments, and the low-precision parameter is refreshed from it,
as Megatron-LM and DeepSpeed do.
"""

from __future__ import annotations

import torch

__all__ = ["adamw_", "rms_norm", "rms_norm_backward", "rms_norm_backward_math", "rms_norm_math"]

_LIB = torch.library.Library("hwsim", "DEF")  # kept alive for the process: it owns the registrations
_LIB.define("rms_norm(Tensor x, Tensor weight, float eps) -> (Tensor, Tensor)")
_LIB.define("rms_norm_backward(Tensor grad, Tensor x, Tensor weight, Tensor rstd) -> (Tensor, Tensor)")
_LIB.define(
    "adamw_(Tensor(a!) param, Tensor grad, Tensor(b!)? master, Tensor(c!) exp_avg, Tensor(d!) exp_avg_sq, "
    "float lr, float beta1, float beta2, float eps, float weight_decay, int step) -> ()"
)


def _acc(dtype: torch.dtype) -> torch.dtype:
    """The accumulation dtype: fp32 for 16-bit inputs, the input's own dtype when wider."""
    return torch.promote_types(dtype, torch.float32)


def rms_norm_math(x: torch.Tensor, weight: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """y = x / sqrt(mean(x^2) + eps) * weight (Zhang & Sennrich 2019), computed in fp32; also 1/rms."""
    xf = x.to(_acc(x.dtype))
    rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return (xf * rstd).to(x.dtype) * weight, rstd


def rms_norm_backward_math(
    grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, rstd: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of rms_norm: dx = rstd * (g*w - n * mean(g*w*n)), dw = sum over rows of g*n, n = x*rstd."""
    acc = _acc(x.dtype)
    n = x.to(acc) * rstd
    gw = grad.to(acc) * weight.to(acc)
    dx = rstd * (gw - n * (gw * n).mean(-1, keepdim=True))
    dweight = (grad.to(acc) * n).reshape(-1, x.shape[-1]).sum(0)
    return dx.to(x.dtype), dweight.to(weight.dtype)


def _adamw(
    param: torch.Tensor,
    grad: torch.Tensor,
    master: torch.Tensor | None,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
) -> None:
    """One AdamW step for one parameter, in place; `master` is the fp32 copy under mixed precision.

    The update is torch's own fused AdamW kernel (`torch._fused_adamw_`, the kernel behind
    `torch.optim.AdamW(fused=True)`, on CPU and CUDA), so the op the graph costs as one fused pass is
    one fused pass when the model runs for real too. torch.optim counts `step` in a float32 tensor
    and increments it before the kernel reads it; here `step` is already the step being taken.
    """
    weights = master if master is not None else param
    g = grad if grad.dtype == weights.dtype else grad.to(weights.dtype)
    steps = [torch.full((), float(step), dtype=torch.float32, device=weights.device)]
    torch._fused_adamw_(
        [weights], [g], [exp_avg], [exp_avg_sq], [], steps,
        lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay, eps=eps, amsgrad=False, maximize=False,
    )  # fmt: skip
    if master is not None:
        param.copy_(master)


# Real kernels for every backend (CPU, CUDA); shape-only kernels for the meta device the tracer uses.
_LIB.impl("rms_norm", rms_norm_math, "CompositeExplicitAutograd")
_LIB.impl("rms_norm_backward", rms_norm_backward_math, "CompositeExplicitAutograd")
_LIB.impl("adamw_", _adamw, "CompositeExplicitAutograd")
_LIB.impl(
    "rms_norm",
    lambda x, weight, eps: (torch.empty_like(x), x.new_empty((*x.shape[:-1], 1), dtype=_acc(x.dtype))),
    "Meta",
)
_LIB.impl(
    "rms_norm_backward", lambda grad, x, weight, rstd: (torch.empty_like(x), torch.empty_like(weight)), "Meta"
)
_LIB.impl("adamw_", lambda *args: None, "Meta")


class _RMSNorm(torch.autograd.Function):
    """Autograd for hwsim::rms_norm: its backward is the one hwsim::rms_norm_backward op."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, eps: float):  # noqa: ANN001, ANN205
        y, rstd = torch.ops.hwsim.rms_norm(x, weight, eps)
        ctx.save_for_backward(x, weight, rstd)
        ctx.mark_non_differentiable(rstd)
        ctx.set_materialize_grads(False)  # no zeros for the unused rstd gradient
        return y, rstd

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor | None, _grad_rstd: torch.Tensor | None):  # noqa: ANN001, ANN205
        if grad_y is None:
            return None, None, None
        x, weight, rstd = ctx.saved_tensors
        dx, dweight = torch.ops.hwsim.rms_norm_backward(grad_y, x, weight, rstd)
        return dx, dweight, None


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """hwsim::rms_norm with autograd: (y, 1/rms)."""
    return _RMSNorm.apply(x, weight, eps)


# The registered ops themselves (positional arguments as in the schemas above).
rms_norm_backward = torch.ops.hwsim.rms_norm_backward  # (grad, x, weight, rstd) -> (dx, dweight)
adamw_ = torch.ops.hwsim.adamw_  # (param, grad, master, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, wd, step)
