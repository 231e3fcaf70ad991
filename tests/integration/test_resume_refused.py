"""A resumed walk whose saved cursor the provider refuses starts again from the top
instead of failing every later run."""

from __future__ import annotations

from sqlalchemy import create_engine, func, select, update

from archiver.db.models import Generation, SyncState
from archiver.simulator import Simulator
from fixtures.cli import ArchiverRunner


def test_refused_cursor_restarts_the_walk(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("aurous", items=250)
    archiver.write_config(
        [
            {
                "name": "a",
                "provider": "aurous",
                "api_key_env": "AK",
                "base_url": simulator.base_url("aurous"),
                "download": False,
            }
        ],
        database_url=database_url,
    )
    archiver.env["AK"] = simulator.api_key("aurous")
    assert archiver.run("backfill", "--no-download").code == 0
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        state = connection.execute(select(SyncState.state)).scalar_one()
        stream = state["streams"][""]
        stream["walk"] = {"kind": "full", "cursor": {"starting_after": "img_deleted_long_ago"}, "pages": 1}
        connection.execute(update(SyncState).values(state=state))
    result = archiver.run("backfill", "--no-download")
    assert result.code == 0, result.err
    assert "250 seen" in result.out  # read again from the top, every item
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Generation)).scalar_one() == 250
        assert connection.execute(select(SyncState.state)).scalar_one()["streams"][""]["walk"] is None
    engine.dispose()
