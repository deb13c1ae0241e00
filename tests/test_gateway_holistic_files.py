"""`signstream fetch-holistic`: the npm package of MediaPipe Holistic is unpacked only when it is the
published one, a folder that exists is whole, and a second run downloads nothing. Served over real
HTTP from a local server (the real download is what scripts/setup.sh and the gateway image do)."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest

from services.gateway import holistic_files
from services.gateway.holistic_files import ENTRY, default_dir, fetch, is_complete


@pytest.fixture
def served(tmp_path):
    """(url of a tarball served over HTTP, number of requests so far)."""
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as archive:
        for name in (ENTRY, "holistic_solution_packed_assets.data"):
            data = f"// {name}".encode()
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    body, hits = tarball.getvalue(), []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/holistic.tgz", hits, body
    server.shutdown()


def test_a_tarball_that_is_not_the_published_one_is_refused_and_nothing_is_left(served, tmp_path):
    url, hits, _ = served
    folder = tmp_path / "holistic"
    with pytest.raises(OSError, match="is not the published @mediapipe/holistic .*nothing was unpacked"):
        fetch(folder, url=url)
    assert hits and not folder.exists() and list(tmp_path.iterdir()) == []


def test_the_published_tarball_is_unpacked_once(served, tmp_path, monkeypatch):
    import base64
    import hashlib

    url, hits, body = served
    monkeypatch.setattr(holistic_files, "INTEGRITY", "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode())
    folder = tmp_path / "holistic"
    assert fetch(folder, url=url) == folder and is_complete(folder)
    assert (folder / ENTRY).read_text() == f"// {ENTRY}"
    fetch(folder, url=url)
    assert len(hits) == 1, "a whole folder was downloaded again"
    assert [p.name for p in tmp_path.iterdir()] == ["holistic"]  # no temporary folder left


def test_the_gateway_looks_where_fetch_holistic_puts_it():
    from services.gateway.settings import GatewaySettings

    assert GatewaySettings().holistic_dir == default_dir()
    assert default_dir().name == f"holistic-{holistic_files.VERSION}"
    assert isinstance(default_dir(), Path)
