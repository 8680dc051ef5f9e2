"""The Node variant of the sandbox image: Debian's nodejs, pinned, built once, non-root."""

from __future__ import annotations

import subprocess

import pytest
from real_rows import docker_settings

from codemint.sandbox import node_image
from codemint.sandbox.node_image import NODE_LABEL


def test_the_node_variant_is_debians_node_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    node_box = node_image.node_sandbox_settings(docker_settings())
    assert node_box is not None
    labels = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "-f",
            f'{{{{ index .Config.Labels "{NODE_LABEL}" }}}}',
            node_box.image,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "nodejs=" in labels and "+dfsg" in labels  # Debian's build, version pinned
    node_image._built.clear()
    commands: list[list[str]] = []
    run = node_image._run
    monkeypatch.setattr(node_image, "_run", lambda args, *a, **k: commands.append(args) or run(args, *a, **k))
    assert node_image.ensure_node_image(docker_settings().image) == node_box.image
    assert commands and not any(c[:2] == ["apt-get", "download"] for c in commands)  # found by its tag
    user = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "sh",
            node_box.image,
            "-c",
            "id -u; node --version",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert user[0] == "10001" and user[1].startswith("v18.")
