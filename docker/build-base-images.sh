#!/usr/bin/env bash
# Builds, where they are missing, the base images signstream's Dockerfiles and compose.yaml name,
# for a Docker host that reaches no image registry (these machines, an air-gapped site):
#   debian:bookworm-slim       a minimal Debian bookworm root made by debootstrap and imported
#   python:3.11-slim-bookworm  Debian's Python 3.11 with venv and pip, on that root
#   redis:7-bookworm           Debian's redis-server, on that root
# Images already present (pulled from a registry, or built by an earlier run) are kept as they are.
# Needs root, docker, debootstrap and a reachable Debian mirror (DEBIAN_MIRROR).
# Certificate authorities in EXTRA_CA_DIR (default: this host's /usr/local/share/ca-certificates)
# go into the python image, so pip inside image builds works behind a TLS-inspecting proxy.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
EXTRA_CA_DIR=${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
say() { echo "build-base-images: $*" >&2; }

for tool in docker debootstrap; do
  command -v "$tool" >/dev/null || { say "$tool is missing: apt-get install docker.io debootstrap"; exit 2; }
done
docker info >/dev/null 2>&1 || { say "no Docker daemon answers: start dockerd (or the docker service) first"; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if ! have_image debian:bookworm-slim; then
  say "debian:bookworm-slim: debootstrap from $MIRROR (about a minute)"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -5 "$WORK/debootstrap.log" >&2; say "debootstrap failed: check DEBIAN_MIRROR and the network"; exit 1; }
  cat >"$WORK/rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SOURCES
  # As in Debian's official images: no caches, docs or man pages.
  rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/* \
         "$WORK"/rootfs/usr/share/doc/* "$WORK"/rootfs/usr/share/man/*
  tar -C "$WORK/rootfs" -c . | docker import --change 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
  rm -rf "$WORK/rootfs"
fi

if ! have_image python:3.11-slim-bookworm; then
  say "python:3.11-slim-bookworm: Debian's python3 on debian:bookworm-slim"
  mkdir -p "$WORK/python/extra-ca"
  if [ -d "$EXTRA_CA_DIR" ]; then
    find "$EXTRA_CA_DIR" -maxdepth 1 -name '*.crt' -exec cp {} "$WORK/python/extra-ca/" \;
  fi
  docker build -q -t python:3.11-slim-bookworm -f "$HERE/base/python.Dockerfile" "$WORK/python" >/dev/null
fi

if ! have_image redis:7-bookworm; then
  say "redis:7-bookworm: Debian's redis-server on debian:bookworm-slim"
  mkdir -p "$WORK/redis"
  docker build -q -t redis:7-bookworm -f "$HERE/base/redis.Dockerfile" "$WORK/redis" >/dev/null
fi
say "base images ready: debian:bookworm-slim python:3.11-slim-bookworm redis:7-bookworm"
