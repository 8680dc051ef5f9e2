"""The command line as a program: it skips the interpreter's teardown at exit (codemint/cli.py,
`Program`), and still exits with its status, its output all written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def codemint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Not from the checkout (-m puts the working directory first on sys.path).
    cmd = [sys.executable, "-m", "codemint", *args]
    env = {**os.environ, "COLUMNS": "300"}  # messages on one line
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_program_exits_with_its_status_and_its_output_written(tmp_path: Path) -> None:
    shown = codemint("--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.rstrip().endswith("─╯") and "inspect" in shown.stdout  # the whole panel

    missing = codemint("inspect", "nowhere", "--runs-dir", str(tmp_path), cwd=tmp_path)
    assert missing.returncode == 2
    assert "nowhere: no run.json here or under" in missing.stderr
