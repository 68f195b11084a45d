"""Fused kernels the zoo calls as single operators: RMS norm (forward, backward) and the AdamW update.

Why custom operators: on a GPU these run as one fused kernel each (apex/Transformer Engine RMSNorm,
`torch.optim.AdamW(fused=True)`), but in plain torch on the meta device RMS norm decomposes into six
pointwise ops and the fused AdamW does not run at all. Registering them with `torch.library` gives the
tracer one operator per kernel (`hwsim.rms_norm.default`, `hwsim.rms_norm_backward.default`,
`hwsim.adamw_.default`) with a fake (meta) implementation, while the CPU/CUDA implementation runs
real torch kernels, so the same model also runs for real: torch's fused AdamW kernel, and RMS norm as
plain torch math (torch 2.13 has no fused RMS norm kernel on the CPU; hwsim.trace.lowering records
the passes it runs instead, for calibrations that say so).

AdamW follows torch.optim.AdamW (decoupled weight decay, Loshchilov & Hutter 2019, arXiv:1711.05101).
With a `master` tensor (mixed precision, Micikevicius et al. 2018, arXiv:1710.03740) the update is
done on the fp32 master weights and moments, and the low-precision parameter is refreshed from it,
as Megatron-LM and DeepSpeed do.
"""

from __future__ import annotations

import torch

__all__ = ["adamw_", "rms_norm", "rms_norm_backward"]


def _acc(dtype: torch.dtype) -> torch.dtype:
    """The accumulation dtype: fp32 for 16-bit inputs, the input's own dtype when wider."""
    return torch.promote_types(dtype, torch.float32)


@torch.library.custom_op("hwsim::rms_norm", mutates_args=())
def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """y = x / sqrt(mean(x^2) + eps) * weight (Zhang & Sennrich 2019), computed in fp32; also 1/rms."""
    xf = x.to(_acc(x.dtype))
    rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return (xf * rstd).to(x.dtype) * weight, rstd


@rms_norm.register_fake
def _rms_norm_fake(x: torch.Tensor, weight: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty_like(x), x.new_empty((*x.shape[:-1], 1), dtype=_acc(x.dtype))


@torch.library.custom_op("hwsim::rms_norm_backward", mutates_args=())
def rms_norm_backward(
    grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, rstd: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of rms_norm: dx = rstd * (g*w - n * mean(g*w*n)), dw = sum over rows of g*n, n = x*rstd."""
    acc = _acc(x.dtype)
    n = x.to(acc) * rstd
    gw = grad.to(acc) * weight.to(acc)
    dx = rstd * (gw - n * (gw * n).mean(-1, keepdim=True))
    dweight = (grad.to(acc) * n).reshape(-1, x.shape[-1]).sum(0)
    return dx.to(x.dtype), dweight.to(weight.dtype)


@rms_norm_backward.register_fake
def _rms_norm_backward_fake(
    grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, rstd: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty_like(x), torch.empty_like(weight)


def _rms_norm_setup(ctx, inputs, output) -> None:  # noqa: ANN001 (torch.library signature)
    x, weight, _eps = inputs
    ctx.save_for_backward(x, weight, output[1])
    ctx.set_materialize_grads(False)  # no zeros for the unused rstd gradient


def _rms_norm_grad(ctx, grad_y, _grad_rstd):  # noqa: ANN001, ANN202
    if grad_y is None:
        return None, None, None
    x, weight, rstd = ctx.saved_tensors
    dx, dweight = rms_norm_backward(grad_y, x, weight, rstd)
    return dx, dweight, None


rms_norm.register_autograd(_rms_norm_grad, setup_context=_rms_norm_setup)


@torch.library.custom_op("hwsim::adamw_", mutates_args=("param", "master", "exp_avg", "exp_avg_sq"))
def adamw_(
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


@adamw_.register_fake
def _adamw_fake(param, grad, master, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step) -> None:  # noqa: ANN001
    return None
