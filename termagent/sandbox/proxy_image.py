"""Building the egress proxy image (squid on top of the sandbox image) for `termagent sandbox build`.

sandboxes/proxy/build.sh installs Debian's squid in a throwaway container of the sandbox
image that alone sees the host's apt sources, swaps in a squid binary rebuilt from Debian's
source with larger plain-HTTP copies (in a second throwaway container; Debian's binary stays
if that fails), then commits it. The recipe hash covers
sandboxes/proxy/ and the base image's id, exactly as scripts/build-proxy-image.sh computes
it, so either one finds the other's image up to date.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from termagent.sandbox.image import (RECIPE_HASH_LEN, ImageBuildError, _image_recipe, _run_streaming, image_labels,
                                     sandboxes_dir)
from termagent.sandbox.network import proxy_image

if TYPE_CHECKING:
    from termagent.config import Config


LABEL_SQUID = "termagent.squid"  # which squid binary sandboxes/proxy/build.sh left in force
SQUID_KINDS = {
    "rebuilt-64k": "squid rebuilt from Debian's source with 64 KB plain-HTTP copies",
    "debian": "Debian's squid binary (plain HTTP copied 4 KB at a time; the rebuild failed when it was built)",
}


def proxy_status(client: Any) -> str:
    """One line for `termagent sandbox status`: the proxy image, and which squid it runs."""
    tag = proxy_image()
    labels = image_labels(client, tag)
    if labels is None:
        return f"egress proxy: {tag} not built (allowlist mode needs it: termagent sandbox build)"
    kind = labels.get(LABEL_SQUID, "")
    return f"egress proxy: {tag}: {SQUID_KINDS.get(kind, 'squid of an older recipe; termagent sandbox build renews it')}"


def proxy_recipe_hash(recipe: Path, base_id: str) -> str:
    """Hash of the proxy recipe's files (path and content) and the base image id."""
    lines = []
    for path in sorted((p for p in recipe.rglob("*") if p.is_file()), key=lambda p: p.relative_to(recipe).as_posix().encode()):
        lines.append(f"{path.relative_to(recipe).as_posix()}\n{hashlib.sha256(path.read_bytes()).hexdigest()}\n")
    lines.append(f"base\n{base_id}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:RECIPE_HASH_LEN]


def build_proxy_image(config: Config, progress: Callable[[str], None], client: Any = None) -> str:
    """Build the proxy image unless the current recipe's exists; returns a summary line."""
    import docker.errors

    from termagent.sandbox.engine import connect_engine

    client = client or connect_engine()
    base = str(config.get("sandbox", "image"))
    try:
        base_id = client.images.get(base).id
    except docker.errors.ImageNotFound:
        raise ImageBuildError(f"the sandbox image {base} is missing; the proxy image is built on it") from None
    recipe = sandboxes_dir() / "proxy"
    tag = proxy_image()
    wanted = proxy_recipe_hash(recipe, base_id)
    if _image_recipe(client, tag) == wanted:
        return f"{tag} is up to date (recipe {wanted})"
    progress(f"building {tag} (recipe {wanted}): squid from the host's apt sources, rebuilt (a few minutes)")
    code, tail = _run_streaming(["bash", str(recipe / "build.sh"), base, tag, wanted], progress)
    if code != 0:
        raise ImageBuildError(f"proxy image build failed (exit {code}):\n" + "\n".join(tail))
    return f"built {tag} (recipe {wanted})"
