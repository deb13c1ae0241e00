# Stands in for the official python:3.11-slim-bookworm where no registry is reachable: Debian
# bookworm's own Python 3.11 with venv and pip. The service Dockerfile needs only `python3 -m venv`,
# which both images provide.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Certificate authorities this site adds (a TLS-inspecting proxy, say), so pip in image builds
# can verify the package index. The folder may be empty.
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
CMD ["python3"]
