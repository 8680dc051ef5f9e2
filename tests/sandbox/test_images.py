"""Derived sandbox images carry a package's environment; rows record the image they ran in."""

from __future__ import annotations

import importlib.metadata
import subprocess
import zipfile
from pathlib import Path

from sandbox_support import IMAGE, require_docker

from codemint.sandbox.images import ensure_env_image, env_tag, image_id, requirement_set, unpack_wheels


def test_requirement_set_pins_the_installed_distribution_and_its_dependencies() -> None:
    found = requirement_set(["pydantic", "json", "os.path"])  # stdlib names add nothing
    pinned = dict(r.split("==") for r in found)
    assert pinned["pydantic"] == importlib.metadata.version("pydantic")
    assert pinned["pydantic_core"] == importlib.metadata.version("pydantic_core")  # a dependency
    assert requirement_set(["json", "textwrap"]) == []


def test_tag_depends_on_base_and_exact_versions() -> None:
    a = env_tag("sha256:1", ["x==1.0"], "codemint-sandbox:latest")
    assert a.startswith("codemint-sandbox-env:")
    assert a != env_tag("sha256:1", ["x==1.1"], "codemint-sandbox:latest")
    assert a != env_tag("sha256:2", ["x==1.0"], "codemint-sandbox:latest")


def _wheel(dest: Path, name: str, version: str, body: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/__init__.py", body)
        zf.writestr(
            f"{name}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
    return path


def test_a_wheel_cannot_write_outside_the_install_dir(tmp_path: Path) -> None:
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../escape.py", "x = 1")
    try:
        unpack_wheels([bad], tmp_path / "site")
    except RuntimeError as exc:
        assert "escapes" in str(exc)
    else:
        raise AssertionError("an escaping member was unpacked")
    assert not (tmp_path / "escape.py").exists()


def test_derived_image_imports_the_package_offline_and_is_built_once(tmp_path: Path) -> None:
    require_docker()
    calls: list[list[str]] = []

    def fetch(reqs: list[str], dest: Path) -> list[Path]:
        calls.append(reqs)
        return [_wheel(dest, "cmtestpkg", "1.0", f"VALUE = {tmp_path.name!r}\n")]

    # The tmp dir name makes the requirement set (so the tag) unique to this test run.
    reqs = [f"cmtestpkg==1.0+{tmp_path.name.replace('_', '.')}"]
    tag = ensure_env_image(IMAGE, reqs, fetch)
    try:
        assert ensure_env_image(IMAGE, reqs, fetch) == tag and len(calls) == 1  # cached by tag
        out = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", tag, "-I", "-c",
             "import cmtestpkg; print(cmtestpkg.VALUE)"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert out.stdout.strip() == tmp_path.name, out.stderr
    finally:
        if image_id(tag):
            subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, check=False)
