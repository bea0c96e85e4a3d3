#!/usr/bin/env bash
# Refresh the pictures in img/ that README.md shows: runs notebooks 01-05 at their defaults with
# MNIST_FIGURE_DIR set to img/ (mnist_utils.paths.figure_path saves each figure there instead of runs/; about
# 15 minutes on a 2-core CPU; 05 loads the CNN that 03 saves), and the browser tests for the screenshots of
# the panel and of Optuna's dashboard.
# Nothing else in the project writes into img/. Run from anywhere:
#   bash img/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/readme_figures
mkdir -p "$out"
for nb in notebooks/0[1-5]_*.ipynb; do
  echo "== $nb"
  MNIST_FIGURE_DIR="$PWD/img" papermill "$nb" "$out/$(basename "$nb")" --cwd notebooks --no-progress-bar
done
python -m pytest -q -m browser tests/test_browser.py && cp tests/output/panel.png img/panel.png
bash img/dashboard_screenshot.sh
git status --short img/
