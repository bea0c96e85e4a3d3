"""Evaluation: loss and accuracy, and predictions with (calibrated) probabilities."""
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

UNSURE = 0.7  # a calibrated top probability below this reads as "unsure" (predict, the drawing pad)


@dataclass
class EvalResult:
    loss: float
    accuracy: float  # fraction in [0, 1]
    count: int


@torch.no_grad()
def predict_logits(model: nn.Module, data, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels, on the CPU, for every image in ``data``: an (x, y) tensor pair or a DataLoader."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        data = [(data[0][i:i + batch_size], data[1][i:i + batch_size]) for i in range(0, len(data[0]), batch_size)]
    device = next(model.parameters(), torch.empty(0)).device  # a model without parameters runs on the CPU
    was_training, logits, labels = model.training, [], []
    model.eval()  # dropout off, BatchNorm on its running statistics; the model's mode is restored below
    for x, y in data:
        logits.append(model(x.to(device)).float().cpu())
        labels.append(y.cpu())
    model.train(was_training)
    if not logits:
        raise ValueError("data holds no images to evaluate; pass a non-empty (x, y) pair or DataLoader")
    return torch.cat(logits), torch.cat(labels)


def evaluate(model: nn.Module, data, batch_size: int = 256) -> EvalResult:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data`` ((x, y) tensors or a DataLoader)."""
    logits, labels = predict_logits(model, data, batch_size)
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return EvalResult(F.cross_entropy(logits, labels).item(), accuracy, len(labels))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256, *, temperature: float = 1.0):
    """Predicted digits and their probabilities, softmax(logits / ``temperature``), for images ``x`` [N, 1, 28, 28]."""
    logits, _ = predict_logits(model, (x, torch.zeros(len(x), dtype=torch.long)), batch_size)
    probs = (logits / temperature).softmax(1)
    return probs.argmax(1), probs


def fit_temperature(model: nn.Module, data) -> float:
    """Temperature scaling (Guo et al., 2017): the T for which softmax(logits / T) best fits the labels of ``data``
    (the validation split). T > 1 softens an overconfident model, T < 1 sharpens a timid one; digits stay."""
    logits, labels = predict_logits(model, data)
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure():
        optimizer.zero_grad()
        (loss := F.cross_entropy(logits / log_t.exp(), labels)).backward()
        return loss
    optimizer.step(closure)
    return float(log_t.detach().exp())
