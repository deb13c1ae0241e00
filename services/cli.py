"""`signstream <command> ...`: one subcommand per service and tool, each parsing its own flags.

Commands are imported only when chosen, so `signstream capture` never loads TensorFlow.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from shared.errors import (
    EXIT_CONFIG,
    EXIT_CONNECT,
    EXIT_ERROR,
    ConfigError,
    DataError,
    ModelError,
    RedisConnectError,
    SignstreamError,
)

COMMANDS = {
    "capture": ("services.capture.main", "publish camera frames to frames:<camera>"),
    "keypoints": ("services.keypoints.main", "turn frames into 1662-float keypoint vectors"),
    "classifier": ("services.classifier.main", "classify 30-frame windows into signs; publish predictions and detections"),
    "train": ("services.trainer.train_cli", "train a model on MP_DATA folders or signer files; promote it if it passes"),
    "trainer": ("services.trainer.main", "train on requests from train:requests; report on train:results"),
    "evaluate": ("services.trainer.evaluate_cli", "accuracy and confusion matrix of a model on a data set"),
    "collect": ("services.recorder.main", "record live keypoint sequences into MP_DATA folders"),
    "up": ("services.up.main", "run the whole pipeline on this machine (embedded Redis, no Docker)"),
    "gateway": ("services.gateway.main", "HTTP API, live event streams, Prometheus metrics and the dashboard"),
    "stats": ("services.stats", "show the counters every running worker reports"),
    "health": ("services.health", "one line per camera and worker; exit 1 when something is down"),
    "fetch-holistic": ("services.gateway.holistic_files", "download MediaPipe Holistic for browsers, for /camera"),
}


def usage() -> str:
    lines = ["usage: signstream <command> [options]   (signstream <command> --help for its options)", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"signstream: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return EXIT_CONFIG
    # TensorFlow and MediaPipe print pages of C++ INFO lines unless told before they load.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")
    module = importlib.import_module(COMMANDS[command][0])
    prog = f"signstream {command}"
    try:
        return int(module.main(rest, prog=prog) or 0)
    except (ConfigError, DataError, ModelError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except RedisConnectError as e:  # its message names the Redis with the password hidden
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_CONNECT
    except SignstreamError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:
        # Redis refusing our credentials or a command (WRONGPASS, NOPERM), wherever it escaped
        # from: restarting will not help, and a traceback would say nothing more.
        from shared.redis_client import auth_error, is_auth_error

        if not is_auth_error(e):
            raise
        print(f"{prog}: error: {auth_error(e)}", file=sys.stderr)
        return EXIT_CONNECT


if __name__ == "__main__":
    sys.exit(main())
