"""The speed recipes' parts, apart from the course's core: a learner can skip this module.

``FastNet`` and ``BestNet`` are the networks of the ``fast``, ``best`` and ``robust`` recipes
(notebook 07). ``apply_speed_options`` applies two ``TrainConfig`` options: ``channels_last`` (NHWC
weights, so convolutions run in that layout) and ``bf16`` (a bfloat16 autocast where the device
computes it natively). ``optimizer_options`` turns on torch.optim's fused update for ``fused=True``.
"""

import os
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from .validation import check_int, check_sizes


class FastNet(nn.Module):
    """A small CNN: a 5x5 then a 3x3 convolution, each max-pooled.

    ``stride=2``: the 5x5 convolution steps two pixels instead of being pooled (a quarter of
    the work); ``stride2=2``: the 3x3 one too, followed by BatchNorm. The ``fast`` recipe uses both.
    """

    def __init__(self, channels=(16, 32), fc: int = 256, stride: int = 1, stride2: int = 1):
        super().__init__()
        c1, c2 = check_sizes("channels", channels, 2)
        fc = check_int("fc", fc, example=256)
        stride = check_int("stride", stride, maximum=2, example=2)
        stride2 = check_int("stride2", stride2, maximum=2, example=2)
        # 28 -> 24, pooled to 12; or strided to 14
        self.conv1 = nn.Conv2d(1, c1, 5, stride=stride, padding=2 * (stride - 1))
        self.pool1 = nn.MaxPool2d(2) if stride == 1 else nn.Identity()
        # -> 10 or 12, pooled to 5 or 6; or strided to 5 or 6
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=stride2)
        self.pool2 = nn.MaxPool2d(2) if stride2 == 1 else nn.Identity()
        # BatchNorm won back the accuracy that striding lost
        self.norm2 = nn.BatchNorm2d(c2) if stride2 == 2 else nn.Identity()
        side = 5 if stride == 1 else 6
        self.fc1 = nn.Linear(c2 * side * side, fc)
        self.fc2 = nn.Linear(fc, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # pooled before the ReLU: the same result on a quarter of the values
        x = F.relu(self.pool1(self.conv1(x)), inplace=True)
        # in place: no copy of the activation to allocate at every step
        x = F.relu(self.norm2(self.pool2(self.conv2(x))), inplace=True)
        # flatten in (height, width, channel) order: a free view of a channels_last tensor
        x = x.permute(0, 2, 3, 1).flatten(1)
        x = F.relu(self.fc1(x), inplace=True)
        return self.fc2(x)


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    """A 3x3 convolution, BatchNorm and ReLU: one stage of ``BestNet``."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class BestNet(nn.Module):
    """The ``best`` recipe's BatchNorm CNN: five conv + BN + ReLU stages, max-pooled 28 -> 14 -> 7
    ->
    3."""

    def __init__(self, widths=(32, 64, 128)):
        super().__init__()
        w1, w2, w3 = check_sizes("widths", widths, 3)
        self.features = nn.Sequential(
            conv_bn(1, w1),
            conv_bn(w1, w1),
            nn.MaxPool2d(2),
            conv_bn(w1, w2),
            conv_bn(w2, w2),
            nn.MaxPool2d(2),
            conv_bn(w2, w3),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(w3 * 3 * 3, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        # (height, width, channel) order, as in FastNet.forward
        return self.classifier(x.permute(0, 2, 3, 1).flatten(1))


def bf16_kernels_in(cpu_flags: str, isa_cap: str) -> bool:
    """Whether CPU ``cpu_flags`` (from /proc/cpuinfo) include native bfloat16 (AVX-512 BF16 or AMX)
    and
    oneDNN's ISA cap (``ONEDNN_MAX_CPU_ISA``) lets its kernels use it."""
    # a run capped to AVX2 kernels (as benchmarks/ can do) has no bf16 kernels, whatever the CPU
    if isa_cap.upper().startswith(("AVX2", "AVX", "SSE")):
        return False
    return "avx512_bf16" in cpu_flags or "amx_bf16" in cpu_flags


def cpu_has_native_bf16() -> bool:
    """Whether this machine's CPU computes bfloat16 natively, for this process's kernels."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():  # not Linux: bf16 stays off, float32 is always right
        return False
    return bf16_kernels_in(cpuinfo.read_text(), os.environ.get("ONEDNN_MAX_CPU_ISA", ""))


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (elsewhere it is emulated, slower than
    float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False


def apply_speed_options(model: nn.Module, device: torch.device, config):
    """The model in NHWC layout with ``channels_last``, and the autocast to train under.

    With ``bf16`` the autocast is bfloat16 where ``device`` runs it natively; elsewhere it is a
    context that does nothing, so the run stays float32, silently.
    """
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if config.bf16 and native_bf16(device):

        def autocast():
            return torch.autocast(device.type, dtype=torch.bfloat16)

        return model, autocast
    return model, nullcontext


def optimizer_options(config) -> dict:
    """Extra keyword arguments for torch.optim's Adam or SGD: ``fused=True`` when the config asks
    for
    it."""
    if config.fused:
        return {"fused": True}
    # left out, not False: False would also turn off torch's default foreach update on a GPU
    return {}
