#!/usr/bin/env bash
# Sets up signstream and runs the whole pipeline on this machine (embedded Redis, no Docker).
# With no arguments it runs the demo: a real signing video from ../shared/videos, looped.
# Any arguments go to `signstream up`, e.g. `scripts/run.sh --camera 0 --keypoint-workers 2`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -eq 0 ]; then
  DEMO="$ROOT/../shared/videos/kiri_hello.mp4"
  if [ ! -f "$DEMO" ]; then
    echo "no demo video at $DEMO: pass a source, e.g. scripts/run.sh --camera 0" >&2
    exit 2
  fi
  set -- --camera "$DEMO"
fi
cd "$ROOT"
exec "$ROOT/scripts/signstream" up "$@"  # sets up first
