#!/usr/bin/env bash
# Sets up a virtual environment and runs every check: ruff, mypy, the whole pytest suite
# (unit, uvicorn integration, every framework example, Chromium end-to-end) and a smoke run of the
# benchmarks. Installs Debian's chromium when it is missing and we may (root, apt-get present).
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "check: Python 3.11 or newer is needed (set PYTHON=...)" >&2
  exit 2
}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[demo,frameworks,test]'

chromium="${CONSENT_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "check: installing Debian's chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[ -x "$chromium" ] || echo "check: no Chromium at $chromium; browser tests will be skipped"

echo "check: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "check: mypy"
.venv/bin/mypy
echo "check: pytest"
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" = 5 ]; then
  echo "check: pytest collected no tests" >&2
  exit 1
fi
[ "$status" = 0 ] || exit "$status"
echo "check: benchmarks (smoke run, no timing assertions)"
.venv/bin/python benchmarks/run_all.py --quick
