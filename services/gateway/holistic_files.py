"""MediaPipe Holistic for the browser: the npm package the /camera page runs, fetched once and served
by the gateway itself, so the page works offline and loads nothing from a CDN.

`signstream fetch-holistic` (run by scripts/setup.sh and by the gateway image's build) downloads the
package's tarball from the npm registry, checks it against the integrity hash pinned here, and
unpacks it into a folder named after its version (write, then rename: a folder that exists is
whole). The gateway serves that folder at /holistic/. This file imports nothing of signstream, so
the image build runs it alone (`python3 holistic_files.py --to DIR`) in a layer of its own.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

PACKAGE = "@mediapipe/holistic"
VERSION = "0.5.1675471629"
TARBALL = f"https://registry.npmjs.org/{PACKAGE}/-/holistic-{VERSION}.tgz"
# The registry's `dist.integrity` for this version: what is unpacked is exactly what was published.
INTEGRITY = "sha512-qY+cxtDeSOvVtevrLgnodiwXYaAtPi7dHZtNv/bUCGEjFicAOYtMmrZSqMmbPkTB2+4jLnPF1vgshkAqQRSYAw=="
ENTRY = "holistic.js"


def default_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "signstream" / f"holistic-{VERSION}"


def is_complete(folder: Path) -> bool:
    return (folder / ENTRY).is_file() and (folder / "holistic_solution_packed_assets.data").is_file()


def fetch(folder: Path, url: str = TARBALL, timeout_s: float = 120.0) -> Path:
    """The package unpacked in `folder`; downloaded only when the folder is not whole already."""
    if is_complete(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}-") as work:
        tarball = Path(work) / "package.tgz"
        digest = hashlib.sha512()
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response, tarball.open("wb") as out:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as e:
            raise OSError(f"cannot download {url}: {e}; the gateway's /camera page needs it "
                          "(or copy a folder made by `signstream fetch-holistic` elsewhere)") from None
        got = "sha512-" + base64.b64encode(digest.digest()).decode()
        if got != INTEGRITY:
            raise OSError(f"{url} is not the published {PACKAGE} {VERSION} (integrity {got[:24]}...): "
                          "a proxy or mirror changed it; nothing was unpacked")
        unpacked = Path(work) / "unpacked"
        with tarfile.open(tarball) as archive:
            members = archive.getmembers()
            # npm tarballs hold plain files in one folder, `package/`; anything else is refused
            # (Debian's Python 3.11.2, in the images, predates extractall's `filter`).
            if not all(m.isfile() and m.name.startswith("package/") and ".." not in m.name for m in members):
                raise OSError(f"{url} holds more than plain files under package/: refused")
            archive.extractall(unpacked, members=members)
        package = unpacked / "package"
        for path in package.iterdir():  # npm keeps the publisher's modes, some unreadable to others
            path.chmod(0o644)
        if not is_complete(package):
            raise OSError(f"{url} holds no {ENTRY}: not the Holistic package")
        shutil.rmtree(folder, ignore_errors=True)
        package.rename(folder)
    return folder


def main(argv: Sequence[str], prog: str = "signstream fetch-holistic") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=f"download {PACKAGE} {VERSION} (MediaPipe Holistic "
                                     "for browsers, about 67 MB) for the gateway's /camera page")
    parser.add_argument("--to", type=Path, default=default_dir(),
                        help="folder to unpack it into (default: %(default)s, where the gateway looks)")
    args = parser.parse_args(argv)
    try:
        folder = fetch(args.to)
    except OSError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="holistic_files.py"))
