"""The download limits in `[archive]` reach the downloader."""

from __future__ import annotations

from sqlalchemy import create_engine, select

from archiver.db.models import Asset
from archiver.simulator import Simulator
from fixtures.cli import ArchiverRunner

MiB = 1024 * 1024


def test_max_file_size_from_the_config_keeps_big_files_out(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("qaves", items=120)  # one file in forty is 2-5 MB
    archiver.write_config(
        [{"name": "q", "provider": "qaves", "api_key_env": "QK", "base_url": simulator.base_url("qaves")}],
        database_url=database_url,
        max_file_size_mb=1,
        download_concurrency=3,
    )
    archiver.env["QK"] = simulator.api_key("qaves")
    archiver.run("backfill")
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        assets = list(connection.execute(select(Asset.state, Asset.size_bytes, Asset.last_error)))
    engine.dispose()
    refused = [a for a in assets if a.state == "failed"]
    kept = [a for a in assets if a.state == "downloaded"]
    assert refused and all("cap" in (a.last_error or "") for a in refused)
    assert kept and all(a.size_bytes <= MiB for a in kept)
    assert len(refused) + len(kept) == 120
    stored = [path for path in (archiver.folder / "archive" / "files").rglob("*") if path.is_file()]
    assert stored and all(path.stat().st_size <= MiB for path in stored)
