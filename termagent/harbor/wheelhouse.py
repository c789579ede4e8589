"""The folder of wheels a Harbor task container installs termagent from, built on the host.

Task containers often have no package index (Terminal-Bench images are built offline here,
and a task may forbid the network), so the host, which has one, does the resolving: it
builds termagent's wheel from this checkout and downloads binary wheels of its dependencies
for the container's Python version, machine and libc (probed in the container first). The
dependencies are cached per target and dependency list, termagent's wheel per source digest,
so a job of many trials builds them once and a code change rebuilds only the small wheel.

Standard library only, and no Harbor: it runs in Harbor's venv, where termagent's own
dependencies are not installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MIN_PYTHON = (3, 11)
_BUILD_LOCK = threading.Lock()  # concurrent trials in one job share one build

# Run in the container by `sh -c`: the first Python >= 3.11 prints what pip needs to know.
PROBE = (
    "for p in python3 python3.13 python3.12 python3.11 /usr/local/bin/python3 /usr/bin/python3; do "
    'if command -v "$p" >/dev/null 2>&1 && "$p" -c "import sys; sys.exit(sys.version_info < (3, 11))" '
    ">/dev/null 2>&1; then exec \"$p\" -c 'import json, platform, sys; "
    'libc, version = platform.libc_ver(); '
    'print(json.dumps({\"executable\": sys.executable, \"python\": \"%d.%d\" % sys.version_info[:2], '
    '\"machine\": platform.machine(), \"libc\": libc or \"musl\", \"libc_version\": version}))\'; fi; done; '
    "exit 3"
)


class WheelhouseError(RuntimeError):
    """The wheels could not be built or downloaded; the message says which step and why."""


@dataclass(frozen=True)
class Target:
    """The container's interpreter, as pip's --python-version/--platform want it."""

    executable: str
    python: str  # "3.11"
    machine: str  # "x86_64", "aarch64"
    libc: str  # "glibc" or "musl"
    libc_version: str  # "2.36"; empty when unknown

    @classmethod
    def from_probe(cls, stdout: str) -> Target:
        data = json.loads(stdout.strip().splitlines()[-1])
        return cls(str(data["executable"]), str(data["python"]), str(data["machine"]), str(data["libc"]),
                   str(data.get("libc_version") or ""))

    def platforms(self) -> list[str]:
        """Every platform tag the container accepts, newest first (pip takes them literally)."""
        if self.libc != "glibc":
            return [f"musllinux_1_{minor}_{self.machine}" for minor in (2, 1)]
        try:
            newest = int(self.libc_version.split(".")[1])
        except (IndexError, ValueError):
            newest = 17
        tags = [f"manylinux_2_{minor}_{self.machine}" for minor in range(newest, 16, -1)]
        legacy = ["manylinux2014", "manylinux2010", "manylinux1"] if self.machine in ("x86_64", "i686") \
            else ["manylinux2014"]
        return tags + [f"{name}_{self.machine}" for name in legacy]

    def key(self) -> str:
        return f"py{self.python}-{self.machine}-{self.libc}{self.libc_version}"


def source_root() -> Path | None:
    """The checkout this termagent was imported from, when it is one (pyproject beside it)."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "termagent"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def source_digest(root: Path) -> str:
    """What the wheel is built from: the package files and pyproject.toml."""
    digest = hashlib.sha256()
    files = [root / "pyproject.toml", *sorted((root / "termagent").rglob("*"))]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    base = os.environ.get("TERMAGENT_HARBOR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "termagent", "harbor")
    return Path(base)


@dataclass(frozen=True)
class Wheelhouse:
    """What the container installs from: a folder of dependency wheels and termagent's wheel."""

    dependencies: Path
    termagent: Path


def build(target: Target, cache: Path | None = None) -> Wheelhouse:
    """The wheels for `target`. Dependencies are cached per target and dependency list, so a
    change to termagent's code rebuilds only its own small wheel (cached per source digest)."""
    root = source_root()
    if root is None:
        raise WheelhouseError("termagent was not imported from a checkout (no pyproject.toml beside it); "
                              "pass the agent kwarg wheelhouse=DIR with termagent's wheel and its dependencies")
    cache = cache or cache_dir()
    requirements = dependencies(root)
    deps = cache / f"deps-{target.key()}-{_digest(json.dumps(requirements))}"
    own = cache / f"termagent-{source_digest(root)}"
    with _BUILD_LOCK:
        _cached(deps, lambda staging: _download(requirements, target, staging))
        _cached(own, lambda staging: _termagent_wheel(root, staging))
    return Wheelhouse(deps, sorted(own.glob("termagent-*.whl"))[0])


def dependencies(root: Path) -> list[str]:
    with open(root / "pyproject.toml", "rb") as handle:
        return [str(item) for item in tomllib.load(handle)["project"]["dependencies"]]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cached(folder: Path, fill: Callable[[Path], object]) -> None:
    """Fill `folder` once: in a staging folder renamed into place, so a crash leaves no half."""
    if (folder / "complete").is_file():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        fill(staging)
        (staging / "complete").write_text("ok\n", encoding="utf-8")
        if folder.exists() and not (folder / "complete").is_file():
            shutil.rmtree(folder)  # a half left by a crash before the rename existed
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / "complete").is_file():  # another job finished the same folder first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _download(requirements: list[str], target: Target, out: Path) -> None:
    platforms = [arg for tag in target.platforms() for arg in ("--platform", tag)]
    _pip("download", "-q", "--only-binary=:all:", "--implementation", "cp", "--python-version", target.python,
         *platforms, "-d", str(out), *requirements, step=f"downloading termagent's dependencies for {target.key()}")


def _termagent_wheel(root: Path, out: Path) -> None:
    """Build from a clean copy, so stale build/ leftovers in the checkout never get in."""
    with tempfile.TemporaryDirectory(prefix="termagent-src.") as copy:
        src = Path(copy)
        for name in ("pyproject.toml", "README.md"):
            if (root / name).is_file():
                shutil.copy2(root / name, src / name)
        shutil.copytree(root / "termagent", src / "termagent", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _pip("wheel", "-q", "--no-deps", "-w", str(out), str(src), step="building termagent's wheel")
    if not any(out.glob("termagent-*.whl")):
        raise WheelhouseError(f"building termagent's wheel left no wheel in {out}")


def _pip(*args: str, step: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("WARNING"))[-2000:]
        raise WheelhouseError(f"{step} failed (pip exit {result.returncode}):\n{tail}")
