"""Are GEMMs with a small reduction dimension k slow on this CPU by themselves?

    python benchmarks/thin_gemm.py          (one pinned thread; about a minute)

The Mixtral validation steps' expert weight gradients (m x n x k with k = the few tokens routed to
an expert, e.g. 256 x 512 x 48) ran 35-54% slower than estimated (reports/validation/FINDINGS.md).
This script times such GEMMs in isolation, hot, into a preallocated output, in the two operand
layouts a model hands the BLAS: the linear forward's (x @ W^T, W stored [n, k]) and the weight
gradient's (g^T @ x, g stored [k, m]). Printed: GFLOP/s (2mnk / median time per call, timed by the
calibration's own `time_calls`). Compare
along k within one run (the host's speed moves between runs): if a small k runs about as fast as a
large one, the in-step slowness is not a property of k.
"""

from __future__ import annotations

import torch

from hwsim.calibrate.device import pinned_threads
from hwsim.calibrate.microbench import time_calls


def main() -> int:
    print(f"{'m':>5s} {'n':>5s} {'k':>5s} {'linear layout':>14s} {'wgrad layout':>13s}   (GFLOP/s)")
    with pinned_threads(1), torch.no_grad():
        for m, n in ((256, 512), (512, 256), (1024, 1024), (448, 1216), (4096, 4096)):
            for k in (16, 48, 64, 128, 256, 1024):
                if m * n * k > 4096 * 4096 * 256:
                    continue
                a, w, out = torch.randn(m, k), torch.randn(n, k), torch.empty(m, n)
                g, x = torch.randn(k, m), torch.randn(k, n)
                linear = time_calls(lambda a=a, w=w, out=out: torch.mm(a, w.t(), out=out), reps=11)[1]
                wgrad = time_calls(lambda g=g, x=x, out=out: torch.mm(g.t(), x, out=out), reps=11)[1]
                flop = 2.0 * m * n * k
                print(f"{m:5d} {n:5d} {k:5d} {flop / linear / 1e9:14.1f} {flop / wgrad / 1e9:13.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
