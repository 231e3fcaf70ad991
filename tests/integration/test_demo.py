"""The README's first command: `archiver demo` ends with an archive you can query."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_leaves_a_queryable_archive_with_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "archiver", "demo", "--items", "40"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Paste these into `sqlite3" in result.stdout
    database = tmp_path / "archiver-demo" / "archive" / "archive.db"
    with sqlite3.connect(database) as connection:
        per_provider = dict(
            connection.execute(
                "SELECT s.provider, count(*) FROM generations g JOIN sources s ON s.id = g.source_id GROUP BY 1"
            ).fetchall()
        )
        paths = [row[0] for row in connection.execute("SELECT path FROM assets WHERE state = 'downloaded'")]
    assert per_provider == {"qaves": 40, "aurous": 40, "imaginepro": 40, "apimall": 40}
    files = tmp_path / "archiver-demo" / "archive" / "files"
    assert paths and all((files / path).is_file() for path in paths)
