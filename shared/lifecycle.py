"""Stopping cleanly: the first SIGTERM/SIGINT finishes the message in hand, a second one exits at once."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

log = logging.getLogger(__name__)


def install_stop_signals(stop: threading.Event, finishing: str = "the message in hand") -> None:
    """Make SIGTERM and SIGINT set `stop`; a second signal ends the process immediately.
    `finishing` names what is finished before exiting, for the log line."""

    def on_signal(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("second %s: exiting now without finishing", name)
            os._exit(128 + signum)
        log.info("%s received: finishing %s, then exiting (send again to exit now)", name, finishing)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def serve(settings_cls, argv, prog: str, service: str, run) -> int:
    """The entry point of a long-running service: settings, logging, signals, then `run(settings, stop)`.

    Before `run`, Redis must answer: an outage is waited out (logged, with backoff), but Redis
    refusing our credentials ends the service at once with `RedisAuthError` (exit code 3), and
    so does such a refusal escaping `run` later (a password changed while we ran).
    """
    from shared.errors import EXIT_OK
    from shared.logs import default_worker_id, setup_logging
    from shared.redis_client import auth_error, check_connection, connect, is_auth_error
    from shared.settings import load_settings

    settings = load_settings(settings_cls, argv, prog)
    setup_logging(settings.log_level, getattr(settings, "worker_id", None) or default_worker_id(service))
    stop = threading.Event()
    install_stop_signals(stop)
    url = getattr(settings, "redis_url", None)
    try:
        if url:
            client = connect(url)
            try:
                if not check_connection(client, url, stop=stop, what=f"starting {service}"):
                    return EXIT_OK  # stopped while waiting for Redis
            finally:
                client.close()
        run(settings, stop)
    except Exception as e:
        if is_auth_error(e):
            raise auth_error(e, url) from e
        raise
    return EXIT_OK


def die_with_parent(sig: int = signal.SIGKILL):
    """A `preexec_fn` for Popen: the child gets `sig` when the thread that spawned it dies.

    Linux only (prctl PR_SET_PDEATHSIG); elsewhere None (no preexec_fn). The signal is tied to
    the spawning *thread*, not its process: spawn from a thread that lives as long as the
    process (the main thread), or the child dies when that thread ends. Survives exec, and
    fires even when the parent is killed with SIGKILL.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("die_with_parent: spawn from the main thread; PR_SET_PDEATHSIG follows the spawning "
                           "thread, so the child would die when this thread ends")
    prctl = _libc().prctl
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: nothing but syscalls
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: no signal will come
            os.kill(os.getpid(), sig)

    return preexec


_PR_SET_PDEATHSIG = 1
_libc_handle = None


def _libc():
    global _libc_handle
    if _libc_handle is None:  # loaded in the parent: the child must not dlopen between fork and exec
        import ctypes
        import ctypes.util

        _libc_handle = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc_handle
