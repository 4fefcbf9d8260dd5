#!/usr/bin/env bash
# Sets up a virtual environment and runs every check: ruff, mypy, the front-end checkers
# (es-check, doiuse), the whole pytest suite (unit, uvicorn integration, every framework example,
# Chromium end-to-end, old engines) and a smoke run of the benchmarks.
#
# What the tests need from outside Python (Debian's chromium, netsurf-gtk, dillo, lynx and xvfb;
# the npm tools in tools/frontend) is installed when it is missing and we may: as root with
# apt-get, and with npm. Otherwise the tests that need it are skipped with a printed reason;
# with CI set, a skip of that kind is a failure.
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

# Debian packages: the command each provides, then the package.
debian_tools=(
  "${CONSENT_CHROMIUM:-/usr/bin/chromium}:chromium"
  "netsurf-gtk:netsurf-gtk"
  "dillo:dillo"
  "lynx:lynx"
  "Xvfb:xvfb"
  "xauth:xauth"
  "import:imagemagick"
  "xwininfo:x11-utils"
)
missing=()
for entry in "${debian_tools[@]}"; do
  command -v "${entry%%:*}" >/dev/null || missing+=("${entry##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "check: installing Debian's ${missing[*]} for the browser and old-engine tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "check: missing ${missing[*]} (not root with apt-get); the tests that need them will be skipped"
  fi
fi

if command -v npm >/dev/null; then
  if [ ! -x tools/frontend/node_modules/.bin/es-check ]; then
    echo "check: installing the front-end checkers (npm ci in tools/frontend)"
    npm ci --prefix tools/frontend --no-audit --no-fund --loglevel=error >/dev/null
  fi
else
  echo "check: no npm; the front-end checks (es-check, doiuse) will be skipped"
fi

# --- PostgreSQL for the consent-record store tests (tests/records) -------------------------------
# They use $CONSENT_TEST_POSTGRES_URL when it is set. Otherwise, as root with apt-get, Debian's
# postgresql is installed and started unless something answers on 127.0.0.1:5432 already, a
# role and a database "consent" are created (the role may create the tests' scratch databases),
# and the variable is set. Without any of that the PostgreSQL tests are skipped with the reason
# (under CI they fail instead).
postgres_answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if [ -z "${CONSENT_TEST_POSTGRES_URL:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    if ! postgres_answers; then
      if ! command -v pg_ctlcluster >/dev/null; then
        echo "check: installing Debian's postgresql for the consent-record store tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      fi
      postgres_version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
      pg_lsclusters -h | grep -q "^$postgres_version main " \
        || pg_createcluster "$postgres_version" main >/dev/null
      pg_ctlcluster "$postgres_version" main start
      for _ in $(seq 50); do postgres_answers && break; sleep 0.2; done
    fi
    su postgres -c "psql -q -v ON_ERROR_STOP=1" >/dev/null <<'SQL' \
      || echo "check: could not create the PostgreSQL role 'consent'; its tests may be skipped"
SELECT 'CREATE ROLE consent LOGIN CREATEDB PASSWORD ''consent-test'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'consent')\gexec
SELECT 'CREATE DATABASE consent OWNER consent'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'consent')\gexec
SQL
    export CONSENT_TEST_POSTGRES_URL="postgresql+asyncpg://consent:consent-test@127.0.0.1:5432/consent"
  elif postgres_answers; then
    echo "check: using the PostgreSQL on 127.0.0.1:5432 (role consent, password consent-test)"
  else
    echo "check: no PostgreSQL on 127.0.0.1:5432 and not root with apt-get; the PostgreSQL" \
      "tests of tests/records will be skipped (set CONSENT_TEST_POSTGRES_URL to use one)"
  fi
fi
# --- end of PostgreSQL -----------------------------------------------------------------------------

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
echo "check: benchmarks (smoke run: each script runs once, no figures judged)"
.venv/bin/python benchmarks/run_all.py --quick
