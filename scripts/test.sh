#!/usr/bin/env bash
# Set up .venv (if needed) with every extra, then lint and run the test suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[serve,pdf,openvino,train,trocr,deploy,batch,dev]'
# System tools of the service tests: Chromium + chromedriver (web page) and redis-server (shared rate
# limit). Installed with apt only when missing; without them those tests skip, except under CI=true.
apt_install() {
  command -v apt-get >/dev/null || return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo -n)
  fi
  { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >/dev/null ||
    echo "scripts/test.sh: could not apt-get install $*; the tests that need it skip (fail under CI=true)" >&2
}
if ! command -v chromium >/dev/null && ! command -v google-chrome >/dev/null; then
  apt_install chromium chromium-driver
elif ! command -v chromedriver >/dev/null; then
  apt_install chromium-driver
fi
command -v redis-server >/dev/null || apt_install redis-server
[ -f /usr/share/dict/american-english ] || apt_install wamerican  # tests/test_lm.py's word-list LM test
.venv/bin/ruff check src tests bench scripts deploy
.venv/bin/ruff format --check src tests bench scripts deploy
# One torch / ONNX Runtime thread: fastest on 2 shared cores, and deterministic. (Models run on ONNX
# Runtime in the tests whatever their model.json says of OpenVINO: tests/conftest.py.)
export OMP_NUM_THREADS=1 HANDOCR_THREADS=1
exec .venv/bin/python -m pytest "$@"
