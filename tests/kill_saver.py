"""Child process for test_kill_safety: saves a large model again and again until it is killed."""

import sys

import torch

from mnist_utils import build_model, save_model

folder = sys.argv[1]
model = build_model("mlp", hidden=(4096, 2048))  # about 12 M parameters, ~50 MB per file
for version in range(1, 10_000):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(version)
    save_model(model, folder, metrics={"version": version})
    print(version, flush=True)
