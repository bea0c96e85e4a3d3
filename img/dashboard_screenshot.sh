#!/usr/bin/env bash
# Refresh img/optuna_dashboard.png: the browser test of Optuna's dashboard (tests/test_dashboard_browser.py)
# trains a small grid (four settings, a few seconds), opens it in optuna-dashboard in headless Chromium and
# leaves its screenshot in tests/output/. Run from anywhere, with the project's environment active:
#   bash img/dashboard_screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pytest -q -p no:cacheprovider -m browser tests/test_dashboard_browser.py
cp tests/output/dashboard.png img/optuna_dashboard.png
