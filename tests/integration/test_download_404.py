"""An asset becomes `missing` only when its URL keeps answering 404, not after any
three failures that happen to end with one 404."""

from __future__ import annotations

from sqlalchemy import create_engine, select, update

from archiver.db.models import Asset
from archiver.simulator import Simulator
from fixtures.cli import ArchiverRunner


def test_only_404s_in_a_row_make_an_asset_missing(
    archiver: ArchiverRunner, simulator: Simulator, database_url: str
) -> None:
    simulator.seed("qaves", items=1)
    archiver.write_config(
        [{"name": "q", "provider": "qaves", "api_key_env": "QK", "base_url": simulator.base_url("qaves")}],
        database_url=database_url,
    )
    archiver.env["QK"] = simulator.api_key("qaves")
    assert archiver.run("backfill", "--no-download").code == 0
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))

    def attempt(fault: str) -> tuple[str, int, int]:
        # A 5xx is retried twice at once within a run; a 404 is not: inject exactly what
        # one run consumes, so no fault is left over for the next attempt.
        times = 1 if fault == "file_404" else 3
        simulator.inject("qaves", fault, endpoint="file", times=times)
        before = simulator.requests("qaves", "file")
        archiver.run("download")
        assert simulator.requests("qaves", "file") - before == times
        with engine.begin() as connection:  # what the backoff would do with time
            connection.execute(update(Asset).values(next_attempt_at=None))
            row = connection.execute(select(Asset.state, Asset.attempts, Asset.not_found_count)).one()
        return row.state, row.attempts, row.not_found_count

    assert attempt("500")[::2] == ("failed", 0)
    assert attempt("file_404")[::2] == ("failed", 1)
    assert attempt("503")[::2] == ("failed", 0)  # the streak is broken
    assert attempt("file_404")[::2] == ("failed", 1)
    assert attempt("file_404")[::2] == ("failed", 2)
    state, attempts, streak = attempt("file_404")
    assert (state, streak) == ("missing", 3)
    assert attempts == 6
    engine.dispose()
