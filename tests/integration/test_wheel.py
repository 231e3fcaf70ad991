"""The migrations ship inside the wheel: an installed archiver outside the checkout
can create its schema."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_installed_outside_the_checkout_runs_migrate(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("archiver-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    # Install the wheel alone into the fresh venv; its dependencies come from this
    # interpreter's site-packages via PYTHONPATH (no network), which holds no archiver.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-compile",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "archiver.toml").write_text('[archive]\ndatabase_url = "sqlite:///archive/archive.db"\n')
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    env.pop("ARCHIVER_CONFIG", None)
    python = venv / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import archiver, sys; print(archiver.__file__)"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert str(venv) in where, where
    result = subprocess.run(
        [str(python), "-m", "archiver", "migrate"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "schema upgraded from empty to" in result.stdout
    assert (work / "archive" / "archive.db").is_file()
