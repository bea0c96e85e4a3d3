"""Evaluation: loss and accuracy, and predictions with (calibrated) probabilities."""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

UNSURE = 0.7  # a calibrated top probability below this reads as "unsure" (predict, the drawing pad)


@dataclass
class EvalResult:
    loss: float
    accuracy: float  # a fraction in [0, 1]
    count: int


def tensor_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> list:
    """(x, y) cut into consecutive batches, in order."""
    batches = []
    for start in range(0, len(x), batch_size):
        batches.append((x[start : start + batch_size], y[start : start + batch_size]))
    return batches


def is_tensor_pair(data) -> bool:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        return False
    return isinstance(data[0], torch.Tensor) and isinstance(data[1], torch.Tensor)


@torch.no_grad()
def predict_logits(
    model: nn.Module, data, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels, on the CPU, for every image in ``data``: an (x, y) tensor pair or a
    DataLoader."""
    if is_tensor_pair(data):
        data = tensor_batches(data[0], data[1], batch_size)
    device = next(model.parameters(), torch.empty(0)).device  # no parameters: the CPU
    was_training = model.training
    logits = []
    labels = []
    model.eval()  # dropout off, BatchNorm on its running statistics
    try:
        for x, y in data:
            logits.append(model(x.to(device)).float().cpu())
            labels.append(y.cpu())
    finally:
        model.train(was_training)  # the caller's mode back, however evaluation ends
    if not logits:
        raise ValueError(
            "data holds no images to evaluate; pass a non-empty (x, y) pair or DataLoader"
        )
    return torch.cat(logits), torch.cat(labels)


def evaluate(model: nn.Module, data, batch_size: int = 256) -> EvalResult:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data`` ((x, y) tensors or a
    DataLoader)."""
    logits, labels = predict_logits(model, data, batch_size)
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    loss = F.cross_entropy(logits, labels).item()
    return EvalResult(loss, accuracy, len(labels))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256, *, temperature: float = 1.0):
    """Predicted digits and their probabilities, softmax(logits / ``temperature``), for images
    ``x``."""
    no_labels = torch.zeros(len(x), dtype=torch.long)
    logits, _ = predict_logits(model, (x, no_labels), batch_size)
    probs = (logits / temperature).softmax(1)
    return probs.argmax(1), probs


def fit_temperature(model: nn.Module, data) -> float:
    """Temperature scaling (Guo et al., 2017): the T for which softmax(logits / T) best fits the
    labels.

    Fitted on ``data``, the validation split. T > 1 softens an overconfident model, T < 1 sharpens a
    timid one; the predicted digits stay the same.
    """
    logits, labels = predict_logits(model, data)
    log_t = torch.zeros(
        1, requires_grad=True
    )  # log T: T stays positive whatever the optimizer does
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())
