#!/usr/bin/env bash
# Sets up signstream and runs the whole test suite (real Redis, real MediaPipe, real TensorFlow).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"` or `scripts/test.sh -k capture`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$("$ROOT/scripts/setup.sh")
cd "$ROOT"
exec "$VENV/bin/python" -m pytest "$@"
