"""`archiver demo`: the whole archiver on a fresh machine, with no keys and no network.

It starts the bundled provider simulator, writes a config for it, backfills all four
providers (records and files) into a local SQLite archive, and shows the status and
SQL people can paste to explore what they now own.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import click
from sqlalchemy import Engine, text

from archiver.archive import open_archive
from archiver.config import Config, load_config
from archiver.http import build_client
from archiver.passes import run_source_pass
from archiver.simulator import PROVIDERS, Simulator
from archiver.status import collect_status
from archiver.sync import Mode, SyncEngine

EXAMPLE_QUERIES = {
    "How many generations per source and status?": """
SELECT s.name, g.status, count(*) AS generations
FROM generations g JOIN sources s ON s.id = g.source_id
GROUP BY s.name, g.status ORDER BY s.name, g.status;""",
    "The ten newest prompts, with the files they made:": """
SELECT s.name, g.created_at, substr(g.prompt, 1, 50) AS prompt, a.role, a.path
FROM generations g
JOIN sources s ON s.id = g.source_id
JOIN assets a ON a.generation_id = g.id AND a.state = 'downloaded'
ORDER BY g.created_at DESC LIMIT 10;""",
    "Credits spent on APIMall, read from the raw JSON the provider sent:": """
SELECT count(*) AS tasks, sum(json_extract(g.raw, '$.credits_used')) AS credits
FROM generations g JOIN sources s ON s.id = g.source_id
WHERE s.provider = 'apimall';""",
}


def _demo_config(sim: Simulator) -> str:
    blocks = ['[archive]\ndatabase_url = "sqlite:///archive/archive.db"\nfiles_dir = "archive/files"\n']
    for provider in PROVIDERS:
        blocks.append(
            f'[[sources]]\nname = "demo-{provider}"\nprovider = "{provider}"\n'
            f'api_key_env = "ARCHIVER_DEMO_{provider.upper()}_KEY"\nbase_url = "{sim.base_url(provider)}"\n'
        )
    return "\n".join(blocks)


def run_demo(folder: Path, items: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with Simulator(seed=1) as sim:
        for provider in PROVIDERS:
            sim.seed(provider, items=items, pending=3 if sim.lists_pending(provider) else 0)
            os.environ[f"ARCHIVER_DEMO_{provider.upper()}_KEY"] = sim.api_key(provider)
        config_path = folder / "archiver.toml"
        config_path.write_text(_demo_config(sim), encoding="utf-8")
        click.echo(f"Provider simulator on {sim.url}; demo config written to {config_path}\n")

        config = load_config(config_path)
        sources = config.resolve()
        archive = open_archive(config)
        try:
            with build_client() as http:
                engine = SyncEngine(archive, http, stop=threading.Event())
                for source in sources:
                    result = run_source_pass(archive, http, engine, source, Mode.BACKFILL, download=True)
                    files = result.downloads.sources[source.name] if result.downloads else None
                    click.echo(
                        f"{source.name:<16} {result.run.status}: {result.run.counts.new} records, "
                        f"{files.downloaded if files else 0} files"
                    )
            _show(archive.engine, archive.source_ids, config)
        finally:
            archive.close()
    database = config.database_url.removeprefix("sqlite:///")
    click.echo(f"\nYour archive: {database}\nFiles: {config.files_dir}\n")
    click.echo("Paste these into `sqlite3 " + database + "` (or Datasette, or any SQL tool):")
    for title, query in EXAMPLE_QUERIES.items():
        click.echo(f"\n-- {title}{query}")


def _show(engine: Engine, source_ids: dict[str, int], config: Config) -> None:
    click.echo("")
    for status in collect_status(engine, source_ids, list(config.sources)):
        assets = status.assets
        click.echo(
            f"{status.name:<16} {'healthy' if status.healthy else 'UNHEALTHY'}: {status.records} records, "
            f"files {assets['downloaded']} downloaded / {assets['pending']} pending / "
            f"{assets['failed']} failed"
        )
    with engine.connect() as connection:
        rows = connection.execute(text(next(iter(EXAMPLE_QUERIES.values())))).all()
    click.echo("\nFirst query, run for you:")
    for row in rows:
        click.echo(f"  {row.name:<16} {row.status:<10} {row.generations}")
