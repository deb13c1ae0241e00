#!/usr/bin/env bash
# Sets up signstream, lints it (ruff), and runs the whole test suite (real Redis, real MediaPipe,
# real TensorFlow).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"` or `scripts/test.sh -k capture`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$("$ROOT/scripts/setup.sh")
cd "$ROOT"
# Lint first: a second, and a finding fails the run before the long suite starts.
"$VENV/bin/ruff" check --output-format concise . || { echo "ruff found the problems above: fix them (many: ruff check --fix)" >&2; exit 1; }
exec "$VENV/bin/python" -m pytest "$@"
