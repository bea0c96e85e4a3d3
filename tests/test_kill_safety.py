"""SIGKILL a process in the middle of saving: every file is still whole and loads."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from mnist_utils import FULL_FILE, STATE_FILE, load_checkpoint, load_full_model

SAVER = Path(__file__).with_name("kill_saver.py")


def _temp_files(folder: Path):
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_sigkill_during_save_keeps_the_previous_model(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, str(SAVER), str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "1"  # one complete save exists
        deadline = time.monotonic() + 60
        while not _temp_files(tmp_path):  # wait until a later save is half-written
            assert time.monotonic() < deadline, "the saver never started a second write"
            assert proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    checkpoint = load_checkpoint(tmp_path / STATE_FILE)
    version = next(checkpoint.model.parameters()).flatten()[0].item()
    assert version >= 1
    for name, tensor in checkpoint.model.state_dict().items():
        assert torch.all(tensor == version), f"{name} mixes two saves"
    # each file is replaced whole, one after the other: the card is the state file's save or the one before
    assert checkpoint.metrics["version"] in (version, version - 1)
    full = load_full_model(tmp_path / FULL_FILE, trusted=True)
    first = next(full.parameters())
    assert torch.all(first == first.flatten()[0])  # a whole, consistent model
