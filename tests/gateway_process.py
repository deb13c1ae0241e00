"""A real `signstream gateway` process on a free port, for the API, live stream and browser tests."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass

import httpx

from services.up.redis_server import free_port
from tests.conftest import signstream_cmd
from tests.waiting import wait_for


@dataclass
class Gateway:
    process: subprocess.Popen
    url: str
    token: str | None
    log_path: str

    def client(self, token: str | None = "same", **kw) -> httpx.Client:
        token = self.token if token == "same" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, **{"timeout": 10, **kw})

    final_log: str | None = None  # kept once stopped, when the file is removed

    def log(self) -> str:
        if self.final_log is not None:
            return self.final_log
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> int:
        self.process.terminate()
        try:
            code = self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        # Read, then removed: a suite run leaves no gateway logs behind in /tmp.
        self.final_log = self.log()
        os.unlink(self.log_path)
        return code


def start_gateway(env: dict[str, str], *args: str, token: str | None = None, scheme: str = "http") -> Gateway:
    port = free_port()
    env = dict(env)
    if token:
        env["SIGNSTREAM_GATEWAY_TOKEN"] = token
    log = tempfile.NamedTemporaryFile("w", prefix="gateway-", suffix=".log", delete=False)
    process = subprocess.Popen(signstream_cmd("gateway", "--port", str(port), *args), env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    gateway = Gateway(process, f"{scheme}://127.0.0.1:{port}", token, log.name)

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the gateway exited with {process.returncode}:\n{gateway.log()}")
        try:
            return httpx.get(gateway.url + "/openapi.json", timeout=1, verify=False).status_code in (200, 401)
        except httpx.TransportError:
            return False

    assert wait_for(answers, timeout_s=30), gateway.log()
    return gateway


def sse_events(response, limit: int | None = None):
    """Server-Sent Events of an httpx streaming response, each as {'id', 'event', 'data'} (data parsed)."""
    event: dict = {}
    seen = 0
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line == "":
            if "data" in event:
                event["data"] = json.loads(event["data"])
                yield event
                seen += 1
                if limit is not None and seen >= limit:
                    return
            event = {}
            continue
        name, _, value = line.partition(":")
        event[name] = value.removeprefix(" ")
