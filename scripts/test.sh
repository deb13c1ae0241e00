#!/usr/bin/env bash
# Sets up signstream, lints it (ruff), and runs the whole test suite (real Redis, real MediaPipe,
# real TensorFlow).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"` or `scripts/test.sh -k capture`.
# Two test processes, a module each at a time (the compose and browser modules share one deployment,
# one browser): most tests wait on the services they start, so one process left a core idle. xdist's
# own order (modules with the most tests first) keeps the compose and browser modules apart, which is
# faster than starting both at once (11:59 against 13:11). `-n 0` runs them here, one by one.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$("$ROOT/scripts/setup.sh")
cd "$ROOT"
# Lint first: a second, and a finding fails the run before the long suite starts.
"$VENV/bin/ruff" check --output-format concise . || { echo "ruff found the problems above: fix them (many: ruff check --fix)" >&2; exit 1; }
exec "$VENV/bin/python" -m pytest -n 2 --dist loadfile "$@"
