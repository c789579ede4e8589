"""Install termagent from a folder of wheels inside a Harbor task container, with nothing but
the container's Python (>= 3.11): no pip, no network, no PyPI.

It runs in the container, not in termagent: standard library only, and it writes nothing
outside PREFIX. Each wheel is unzipped into PREFIX/site (a wheel's ``*.data/purelib`` and
``*.data/platlib`` go there too; scripts and headers are not needed), and PREFIX/bin/termagent
starts ``python -I``, so the task's own PYTHONPATH cannot break termagent and termagent's
dependencies never reach the commands it runs (they see the container's Python as it was).

    python3 unpack.py WHEELS_DIR PREFIX
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

LAUNCHER = """#!/bin/sh
exec {python} -I -c 'import sys; sys.path.insert(0, "{site}"); sys.argv[0] = "termagent"; \\
from termagent.cli import main; sys.exit(main())' "$@"
"""


def unpack_wheel(wheel: Path, site: Path) -> None:
    """Unzip one wheel into `site`, folding its .data lib folders into it."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    for data in site.glob("*.data"):
        for lib in ("purelib", "platlib"):
            if (data / lib).is_dir():
                shutil.copytree(data / lib, site, dirs_exist_ok=True)
        shutil.rmtree(data)


def install(wheels: Path, prefix: Path) -> Path:
    """Unpack every wheel in `wheels` under `prefix`; return the launcher's path."""
    found = sorted(wheels.glob("*.whl"))
    if not any(w.name.startswith("termagent-") for w in found):
        raise SystemExit(f"unpack: no termagent wheel in {wheels}")
    site = prefix / "site"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    for wheel in found:
        unpack_wheel(wheel, site)
    launcher = prefix / "bin" / "termagent"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(LAUNCHER.format(python=sys.executable, site=site), encoding="utf-8")
    launcher.chmod(0o755)
    return launcher


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: unpack.py WHEELS_DIR PREFIX")
    print(install(Path(sys.argv[1]), Path(sys.argv[2])))
