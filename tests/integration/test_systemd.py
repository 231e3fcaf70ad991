"""The systemd units are accepted by systemd itself, and hardened."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _installed_copy(tmp_path: Path, name: str) -> Path:
    """The unit with ExecStart pointing at this interpreter's archiver, as installed."""
    archiver = Path(sys.executable).parent / "archiver"
    text = (UNITS / name).read_text().replace("/opt/archiver/bin/archiver", str(archiver))
    target = tmp_path / name
    target.write_text(text)
    return target


@pytest.mark.parametrize("name", ["archiver.service", "archiver-sync.service", "archiver-sync.timer"])
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, name: str) -> None:
    for other in ("archiver.service", "archiver-sync.service", "archiver-sync.timer"):
        _installed_copy(tmp_path, other)
    result = subprocess.run(
        [ANALYZE, "verify", str(tmp_path / name)], capture_output=True, text=True, cwd=tmp_path
    )
    # verify only warns on unknown keys: read what it says, not just its exit code.
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 0 and complaints == [], complaints


@pytest.mark.parametrize("name", ["archiver.service", "archiver-sync.service"])
def test_units_are_more_hardened_than_systemds_own_daemons(name: str) -> None:
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(UNITS / name)], capture_output=True, text=True
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) < 2.3
