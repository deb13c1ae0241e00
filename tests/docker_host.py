"""A Docker host for the compose tests: Debian's docker.io and docker-compose installed if missing,
a dockerd started if none answers, and the base images built where no registry can provide them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.debian_packages import ensure

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"docker": "docker.io", "dockerd": "docker.io", "docker-compose": "docker-compose"}


def run(*args: str, timeout: float = 600, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def ensure_packages() -> None:
    ensure({**PACKAGES, "debootstrap": "debootstrap"}, "not docker")


def daemon_answers() -> bool:
    return run("docker", "info", timeout=30, check=False).returncode == 0


def ensure_daemon(log_dir: Path) -> subprocess.Popen | None:
    """Start dockerd when none answers; the process, for stopping it afterwards, or None."""
    if daemon_answers():
        return None
    if os.geteuid() != 0:
        pytest.fail("no Docker daemon answers and this user cannot start one: start dockerd, "
                    "or leave these tests out with -m 'not docker'")
    log = open(log_dir / "dockerd.log", "wb")
    daemon = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemon_answers():
            return daemon
        if daemon.poll() is not None:
            break
        time.sleep(0.5)
    tail = (log_dir / "dockerd.log").read_text(errors="replace")[-2000:]
    pytest.fail(f"dockerd did not come up within 60 s:\n{tail}")


def ensure_base_images() -> None:
    run(str(REPO / "docker" / "build-base-images.sh"), timeout=1200)


CACHE_REPOSITORY = "signstream-build-cache"


def tidy_images() -> list[str]:
    """Keep the newest image of each service's build stage, tagged as the next build's cache, and remove the
    untagged images earlier builds left (stages and service images a rebuild replaced). The tags kept."""
    stages = run("docker", "images", "-q", "--no-trunc", "--filter", "label=io.signstream.stage").stdout.split()
    newest: dict[str, tuple[str, str]] = {}
    if stages:
        described = run("docker", "image", "inspect", "--format", '{{.Id}} {{.Created}} '
                        '{{index .Config.Labels "io.signstream.service"}}-{{index .Config.Labels "io.signstream.stage"}}',
                        *sorted(set(stages))).stdout.splitlines()
        for image, created, stage in (line.split() for line in described):
            if stage not in newest or created > newest[stage][1]:
                newest[stage] = (image, created)
    for stage, (image, _) in newest.items():
        run("docker", "tag", image, f"{CACHE_REPOSITORY}:{stage}")
    run("docker", "image", "prune", "-f", "--filter", "label=io.signstream.service")
    return sorted(newest)
