#!/usr/bin/env bash
# Set up .venv (if needed) with every extra, then lint and run the test suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[serve,pdf,train,trocr,deploy,batch,dev]'
.venv/bin/ruff check src tests bench scripts deploy
.venv/bin/ruff format --check src tests bench scripts deploy
# One torch / ONNX Runtime thread: fastest on 2 shared cores, and deterministic.
export OMP_NUM_THREADS=1 HANDOCR_THREADS=1
exec .venv/bin/python -m pytest "$@"
