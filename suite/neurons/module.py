"""``SpikingNeuron``: one ``nn.Module`` for every variant, holding the per-layer parameters.

k bounds: k is a per-layer scalar ``nn.Parameter`` initialised at 1 and kept in ``[0.5, 5]`` (Sec. 2.2) by
projection after each optimizer step (:func:`suite.neurons.constrain` registers the hook;
:func:`suite.neurons.project` applies it by hand). The forward pass uses k as it is, so the gradient at a
bound is the plain derivative dL/dk (eq. 8), not zero: a step that pushes k out is undone by the projection,
and a step back into the interval moves it freely (projected gradient descent). Clamping in the forward
instead would zero the gradient at the bound and let k stick there.

The membrane state starts at ``v_init`` (V0 = 0) on every call: a forward pass sees a whole sequence
``[T, B, ...]`` and carries no state into the next batch.
"""

from __future__ import annotations

import torch
from torch import nn

from suite.neurons import kernel, surrogates
from suite.neurons.dynamics import ACTIVATIONS, Constants, Params, Variant, plif_w0


class SpikingNeuron(nn.Module):
    def __init__(
        self,
        variant: Variant,
        *,
        tau: float = 2.0,
        v_th: float = 1.0,
        v_reset: float = 0.0,
        v_init: float = 0.0,
        surrogate: str = "atan",
        alpha: float | None = None,
        detach_reset: bool = False,
        k_init: float = 1.0,
        k_bounds: tuple[float, float] = (0.5, 5.0),
        act_param: float | None = None,
        fused: bool = True,
    ):
        super().__init__()
        tau = float(tau)
        if not tau > 1.0:
            raise ValueError(f"{variant.name}: tau={tau!r} must be > 1 (the decay 1/tau must lie in (0, 1))")
        lo, hi = (float(b) for b in k_bounds)
        if not 0.0 < lo < hi:
            raise ValueError(f"{variant.name}: k_bounds={tuple(k_bounds)!r} must satisfy 0 < low < high")
        if not lo <= k_init <= hi:
            raise ValueError(f"{variant.name}: k_init={k_init!r} lies outside k_bounds=({lo}, {hi})")
        sur = surrogates.get(surrogate)
        act = ACTIVATIONS[variant.activation]
        self.variant = variant
        self.tau, self.k_bounds, self.use_fused = tau, (lo, hi), fused
        self.constants = Constants(
            activation=variant.activation,
            act_param=float(act.default_param if act_param is None else act_param),
            reset_div_k=variant.reset_div_k,
            v_reset=float(v_reset),
            v_init=float(v_init),
            surrogate=surrogate,
            alpha=float(sur.default_alpha if alpha is None else alpha),
            detach_reset=bool(detach_reset),
        )
        if variant.learn_k:
            self.k = nn.Parameter(torch.tensor(float(k_init)))
        else:
            self.register_buffer("k", torch.tensor(1.0), persistent=False)
        if variant.learn_tau:
            self.w = nn.Parameter(torch.tensor(plif_w0(tau)))
        else:
            self.register_buffer("decay_const", torch.tensor(1.0 / tau), persistent=False)
        if variant.learn_vth:
            self.v_th = nn.Parameter(torch.tensor(float(v_th)))
        else:
            self.register_buffer("v_th", torch.tensor(float(v_th)), persistent=False)

    def params(self, dtype: torch.dtype) -> Params:
        decay = torch.sigmoid(self.w) if self.variant.learn_tau else self.decay_const
        return Params(self.k.to(dtype), decay.to(dtype), self.v_th.to(dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError(
                f"{self.variant.name}: input of shape {tuple(x.shape)} has {x.dim()} dims; expected [T, B, ...]"
            )
        if not x.is_floating_point():
            raise ValueError(f"{self.variant.name}: input dtype {x.dtype} is not floating point")
        return kernel.run(x, self.params(x.dtype), self.constants, self.use_fused)

    @torch.no_grad()
    def project_(self) -> None:
        if self.variant.learn_k:
            self.k.clamp_(*self.k_bounds)

    def extra_repr(self) -> str:
        s = self.constants
        return (
            f"{self.variant.name}, tau={self.tau}, surrogate={s.surrogate}(alpha={s.alpha}), "
            f"detach_reset={s.detach_reset}, fused={self.use_fused}"
        )
