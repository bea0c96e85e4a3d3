import torch

from mnist_utils import evaluate, fit, predict


def test_evaluate_and_predict_agree(small_data):
    model, _ = fit("mlp", small_data, epochs=2)
    x, y = small_data.test
    result = evaluate(model, small_data.test, batch_size=777)
    digits, probs = predict(model, x)
    assert result.count == 10_000
    assert result.accuracy == (digits == y).float().mean().item()
    assert torch.allclose(probs.sum(1), torch.ones(len(x)), atol=1e-5)
    assert torch.equal(probs.argmax(1), digits)


def test_evaluate_accepts_a_dataloader(small_data):
    from torch.utils.data import DataLoader, TensorDataset

    model, _ = fit("mlp", small_data, epochs=1)
    loader = DataLoader(TensorDataset(*small_data.val), batch_size=100)
    assert evaluate(model, loader).accuracy == evaluate(model, small_data.val).accuracy
