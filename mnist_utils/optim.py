"""Optimizers and the learning-rate schedule for ``fit``: ``torch.optim`` Adam/SGD and OneCycleLR, or the lean
equivalents below, which skip ``torch.optim``'s ~1.4 s first import (a seventh of the fast recipe's budget).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from .train import TrainConfig


class LeanOptimizer:
    """Adam or SGD (momentum, Nesterov, L2 weight decay) in one fused kernel per step (``torch._fused_adam_`` /
    ``torch._fused_sgd_``, the kernels behind ``fused=True``), or a few ``torch._foreach_*`` calls elsewhere.

    The same update rules as ``torch.optim.Adam`` / ``torch.optim.SGD``, without their machinery: the first
    use of any ``torch.optim`` optimizer imports ``torch._dynamo`` (about 1.4 s on a 2-core CPU), which is
    a seventh of the fast recipe's whole budget. ``lr`` is a plain attribute that :class:`LeanOneCycle` sets.
    """

    def __init__(self, params, config: TrainConfig, *, fused: bool | None = None):
        self.params = [p for p in params if p.requires_grad]
        self.kind, self.lr, self.weight_decay = config.optimizer, config.lr, config.weight_decay
        self.betas, self.momentum, self.nesterov, self.eps = config.betas, config.momentum, config.nesterov, 1e-8
        if fused is None:
            fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in self.params)
        self.fused = fused and hasattr(torch, "_fused_adam_") and hasattr(torch, "_fused_sgd_")
        self.steps = 0
        # per parameter index: Adam [first moment, second moment, step count]; SGD [momentum buffer]
        self.state: dict[int, list[torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        self.steps += 1
        params = [self.params[i] for i in live]
        grads = [self.params[i].grad for i in live]
        if self.kind == "adam":
            for i in live:
                if i not in self.state:
                    p = self.params[i]
                    self.state[i] = [torch.zeros_like(p), torch.zeros_like(p), torch.zeros((), device=p.device)]
            exp_avg, exp_avg_sq, counts = ([self.state[i][k] for i in live] for k in range(3))
            beta1, beta2 = self.betas
            if self.fused:
                torch._foreach_add_(counts, 1)
                torch._fused_adam_(params, grads, exp_avg, exp_avg_sq, [], counts, lr=self.lr, beta1=beta1,
                                   beta2=beta2, weight_decay=self.weight_decay, eps=self.eps, amsgrad=False,
                                   maximize=False)
                return
            if self.weight_decay:
                grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
            torch._foreach_lerp_(exp_avg, grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sq, beta2)
            torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1 - beta2)
            denom = torch._foreach_sqrt(exp_avg_sq)
            torch._foreach_div_(denom, (1 - beta2 ** self.steps) ** 0.5)
            torch._foreach_add_(denom, self.eps)
            torch._foreach_addcdiv_(params, exp_avg, denom, -self.lr / (1 - beta1 ** self.steps))
            return
        fresh = [i not in self.state for i in live]
        if self.fused and (all(fresh) or not any(fresh)):
            if self.momentum and all(fresh):
                for i in live:
                    self.state[i] = [torch.empty_like(self.params[i])]
            bufs = [self.state[i][0] for i in live] if self.momentum else []
            torch._fused_sgd_(params, grads, bufs, weight_decay=self.weight_decay, momentum=self.momentum,
                              lr=self.lr, dampening=0.0, nesterov=self.nesterov, maximize=False,
                              is_first_step=bool(self.momentum) and all(fresh))
            return
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum:  # buf = momentum * buf + grad (the first step starts buf at grad)
            seen = [(self.state[i][0], g) for i, g in zip(live, grads) if i in self.state]
            if seen:
                torch._foreach_mul_([b for b, _ in seen], self.momentum)
                torch._foreach_add_([b for b, _ in seen], [g for _, g in seen])
            for i, g in zip(live, grads):
                if i not in self.state:
                    self.state[i] = [g.detach().clone()]
            bufs = [self.state[i][0] for i in live]
            grads = torch._foreach_add(grads, bufs, alpha=self.momentum) if self.nesterov else bufs
        torch._foreach_add_(params, grads, alpha=-self.lr)


class LeanOneCycle:
    """``torch.optim.lr_scheduler.OneCycleLR``'s learning-rate curve (cosine, two phases, div 25, final div 1e4)
    for :class:`LeanOptimizer`. Only the learning rate moves; betas and momentum stay as configured."""

    def __init__(self, optimizer: LeanOptimizer, max_lr: float, total_steps: int, pct_start: float = 0.3):
        self.optimizer, self.max_lr, self.total = optimizer, max_lr, total_steps
        self.warmup_end = float(pct_start * total_steps) - 1
        self.count = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, step: int) -> float:
        start, peak = self.max_lr / 25.0, self.max_lr
        if step <= self.warmup_end:
            lo, hi, pct = start, peak, step / self.warmup_end if self.warmup_end > 0 else 1.0
        else:
            lo, hi = peak, start / 1e4
            pct = (step - self.warmup_end) / max(self.total - 1 - self.warmup_end, 1e-12)
        return hi + (lo - hi) / 2.0 * (math.cos(math.pi * min(pct, 1.0)) + 1.0)

    def step(self) -> None:
        self.count += 1
        self.optimizer.lr = self.lr_at(self.count)


def make_optimizer(model: nn.Module, config: TrainConfig):
    """``torch.optim.Adam``/``SGD`` as configured, or a :class:`LeanOptimizer` when ``config.lean``."""
    if config.lean:
        return LeanOptimizer(model.parameters(), config)
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas,
                                weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay, nesterov=config.nesterov)


def make_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    """The per-batch learning-rate schedule, or None for a constant rate."""
    if config.schedule != "onecycle":
        return None
    total = config.epochs * steps_per_epoch
    if isinstance(optimizer, LeanOptimizer):
        return LeanOneCycle(optimizer, config.lr, total, config.pct_start)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total,
                                               pct_start=config.pct_start)
