import sys

import pytest
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from mnist_utils import (
    MLP,
    TrainConfig,
    TrainingDiverged,
    build_model,
    evaluate,
    fit,
    select_device,
)
from mnist_utils.progress import progress_bar


def test_fit_learns_and_records_a_history(small_data):
    seen = []
    model, history = fit(
        "mlp", small_data, epochs=3, batch_size=64, callback=lambda h: seen.append(h.epochs)
    )
    assert seen == [1, 2, 3]
    assert (
        history.epochs == 3
        and len(history.val_loss) == len(history.val_acc) == len(history.seconds) == 3
    )
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_acc[-1] > 0.85
    assert evaluate(model, small_data.test).accuracy > 0.85
    assert not history.stopped_early


def test_sgd_and_onecycle_also_train(small_data):
    _, history = fit("mlp", small_data, epochs=2, optimizer="sgd", lr=0.05, schedule="onecycle")
    assert history.val_acc[-1] > 0.8


def test_same_seed_repeats_exactly_on_cpu(small_data):
    runs = [
        fit("mlp", small_data, hparams={"dropout": 0.2}, epochs=2, seed=7, device="cpu")
        for _ in range(2)
    ]
    (m1, h1), (m2, h2) = runs
    assert (
        h1.train_loss == h2.train_loss and h1.val_loss == h2.val_loss and h1.val_acc == h2.val_acc
    )
    for (name, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), name
    _, h3 = fit("mlp", small_data, hparams={"dropout": 0.2}, epochs=2, seed=8, device="cpu")
    assert h3.train_loss != h1.train_loss


def test_callback_and_should_stop_end_training_cleanly(small_data):
    _, history = fit("mlp", small_data, epochs=5, callback=lambda h: h.epochs == 2)
    assert history.epochs == 2 and history.stopped_early
    calls = []
    _, history = fit(
        "mlp", small_data, epochs=5, should_stop=lambda: calls.append(1) or len(calls) >= 3
    )
    assert history.epochs == 0 and history.stopped_early and len(calls) == 3


def test_divergence_stops_at_once_and_keeps_the_history(small_data):
    def poison_after_first_epoch(history):
        with torch.no_grad():
            next(model.parameters()).fill_(float("nan"))

    model = build_model("mlp")
    with pytest.raises(TrainingDiverged, match=r"lr=0\.001.*smaller learning rate") as info:
        fit(model, small_data, epochs=3, callback=poison_after_first_epoch)
    assert info.value.history.epochs == 1  # the finished epoch is kept


def test_config_override_refuses_unknown_options():
    with pytest.raises(TypeError, match="unknown training option.*epoch"):
        TrainConfig().replace(epoch=3)


def test_fit_is_the_plain_pytorch_loop(small_data):
    """The loop a learner writes by hand gives exactly fit's weights, given the same seed and the same batches."""

    def batches():
        return DataLoader(
            TensorDataset(small_data.train_x, small_data.train_y),
            batch_size=100,
            shuffle=True,
            generator=torch.Generator().manual_seed(3),
        )

    torch.manual_seed(3)
    model = MLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = batches()
    for _ in range(2):
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    fitted, history = fit(
        "mlp", (batches(), None), epochs=2, lr=1e-3, seed=3, device="cpu", progress=False
    )
    for (name, a), b in zip(model.state_dict().items(), fitted.state_dict().values()):
        assert torch.equal(a, b), name
    assert len(history.batch_loss) == len(history.batch_lr) == 2 * len(loader)


def test_a_named_device_that_is_missing_is_refused():
    assert select_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        select_device("tpu9")


def test_progress_bar_shows_in_a_terminal_but_not_under_ci(monkeypatch):
    # the suite itself runs with MNIST_NO_PROGRESS (conftest.py) and maybe CI set: clear both first
    monkeypatch.delenv("MNIST_NO_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)  # a terminal, not a kernel
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert not progress_bar(10, None).disable
    monkeypatch.setenv("CI", "true")
    assert progress_bar(10, None).disable
    monkeypatch.delenv("CI")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)  # output piped to a file or a log
    assert progress_bar(10, None).disable
    assert not progress_bar(10, True).disable  # asked for: shown anyway
