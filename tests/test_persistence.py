import pickle

import pytest
import torch

from mnist_utils import (
    FULL_FILE,
    STATE_FILE,
    UntrustedCheckpointError,
    build_model,
    load_checkpoint,
    load_full_model,
    load_model,
    save_model,
)
from mnist_utils.persistence import CARD_FILE


class CreatesAFile:
    """Unpickling this runs open(path, 'w'): a stand-in for any code a stranger's pickle could run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _same_outputs(a, b):
    x = torch.randn(16, 1, 28, 28)
    a.eval(), b.eval()
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def test_save_writes_both_historical_files_and_loads_back(tmp_path):
    model = build_model("mlp", hidden=(32, 16), dropout=0.1)
    full, state = save_model(model, tmp_path, normalize="half", metrics={"test_accuracy": 0.5})
    assert full == tmp_path / FULL_FILE and state == tmp_path / STATE_FILE
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [FULL_FILE, STATE_FILE, CARD_FILE]
    )  # no temp files
    checkpoint = load_checkpoint(state)
    assert checkpoint.arch == "mlp" and checkpoint.hparams == {"hidden": (32, 16), "dropout": 0.1}
    assert checkpoint.normalize == "half" and checkpoint.metrics == {"test_accuracy": 0.5}
    assert _same_outputs(model, checkpoint.model)
    assert _same_outputs(model, load_model(tmp_path))  # a folder means its state file
    assert _same_outputs(model, load_full_model(full, trusted=True))


def test_state_file_loads_the_way_pytorch_tutorials_load_one(tmp_path):
    model = build_model("mlp")
    _, state = save_model(model, tmp_path)
    fresh = build_model("mlp")
    fresh.load_state_dict(torch.load(state, weights_only=True))
    assert _same_outputs(model, fresh)


def test_a_state_file_of_release_0_1_still_loads(tmp_path):
    model = build_model("mlp", hidden=(32, 16))
    old = {
        "format": "mnist_utils.state/1",
        "arch": "mlp",
        "hparams": {"hidden": (32, 16), "dropout": 0.0},
        "normalize": "half",
        "metrics": {"test_accuracy": 0.9},
        "state_dict": model.state_dict(),
    }
    torch.save(old, tmp_path / STATE_FILE)
    checkpoint = load_checkpoint(tmp_path)
    assert (checkpoint.arch, checkpoint.normalize, checkpoint.metrics) == (
        "mlp",
        "half",
        {"test_accuracy": 0.9},
    )
    assert _same_outputs(model, checkpoint.model)


def test_a_renamed_pair_and_a_broken_card(tmp_path):
    model = build_model("cnn")
    save_model(model, tmp_path)
    (tmp_path / STATE_FILE).rename(tmp_path / "digits.pth")
    (tmp_path / CARD_FILE).rename(tmp_path / "digits.json")
    assert _same_outputs(model, load_model(tmp_path / "digits.pth"))
    (tmp_path / "digits.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a model card"):
        load_model(tmp_path / "digits.pth")


def test_whole_model_pickle_needs_trusted(tmp_path):
    full, _ = save_model(build_model("cnn"), tmp_path)
    with pytest.raises(UntrustedCheckpointError, match="trusted=True"):
        load_full_model(full)
    with pytest.raises(UntrustedCheckpointError, match="could run code"):
        load_model(full)
    with pytest.raises(
        FileNotFoundError, match="does not exist"
    ):  # a missing file is missing, not refused
        load_full_model(tmp_path / "no_such_model.pth")


@pytest.mark.parametrize("writer", ["torch.save", "plain pickle"])
def test_crafted_pickle_never_runs(tmp_path, writer):
    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pth"
    if writer == "torch.save":
        torch.save({"state_dict": CreatesAFile(marker)}, evil)
    else:
        evil.write_bytes(pickle.dumps(CreatesAFile(marker)))
    for load in (load_model, load_checkpoint, load_full_model):
        with pytest.raises(UntrustedCheckpointError):
            load(evil)
    assert not marker.exists()
    # proof that the file really is dangerous: the unsafe loader does create the marker
    load = (
        (lambda p: torch.load(p, weights_only=False))
        if writer == "torch.save"
        else (lambda p: pickle.loads(p.read_bytes()))
    )
    load(evil)
    assert marker.exists()


def test_bare_state_dict_loads_into_a_named_model(tmp_path):
    model = build_model("cnn")
    torch.save(model.state_dict(), tmp_path / "weights.pth")
    with pytest.raises(ValueError, match="no mnist_model.json beside it.*pass model="):
        load_model(tmp_path / "weights.pth")
    assert _same_outputs(model, load_model(tmp_path / "weights.pth", model="cnn"))


def test_save_refuses_a_model_it_could_not_rebuild(tmp_path):
    with pytest.raises(ValueError, match="build_model"):
        save_model(torch.nn.Linear(2, 2), tmp_path)
    assert list(tmp_path.iterdir()) == []
