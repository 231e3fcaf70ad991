"""The `archiver` command line (INTERFACE.md). Thin: parse, call, report.

User errors (`ArchiverError`) print one line and exit non-zero; anything else is a
bug, shown as one line too unless `--debug` asks for the traceback.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NoReturn

import click
from rich.console import Console
from rich.table import Table

from archiver import __version__
from archiver.archive import Archive, connect, open_archive
from archiver.config import Config, load_config
from archiver.db.engine import display_url
from archiver.db.migrate import head_revision, upgrade
from archiver.errors import ArchiverError
from archiver.http import build_client
from archiver.log import LogFormat, configure_logging, get_logger, redact
from archiver.progress import progress_for_terminal
from archiver.signals import stop_on_signals
from archiver.status import SourceStatus, collect_status
from archiver.sync import Mode, RunResult, SyncEngine

log = get_logger("archiver.cli")


@dataclass
class Session:
    """What every command shares: the global options, and the archive once opened."""

    config_path: str | None
    debug: bool
    _config: Config | None = None
    _archives: list[Archive] = field(default_factory=list)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def open(self) -> Archive:
        archive = open_archive(self.config)
        self._archives.append(archive)
        return archive

    def close(self) -> None:
        for archive in self._archives:
            archive.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (default: $ARCHIVER_CONFIG, else ./archiver.toml).",
)
@click.option("--debug", is_flag=True, help="Debug logging, and tracebacks for errors.")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    show_default=True,
    help="Console lines on a terminal, JSON lines otherwise.",
)
@click.version_option(__version__, prog_name="archiver")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, log_format: LogFormat) -> None:
    """Archive your image-generation history from qaves.me, Aurous Labs, ImaginePro and
    APIMall into one database and file store."""
    configure_logging(log_format, debug)
    session = Session(config_path=config_path, debug=debug)
    ctx.obj = session
    ctx.call_on_close(session.close)


@cli.command()
@click.pass_obj
def migrate(session: Session) -> None:
    """Bring the database schema to the newest revision (safe to repeat)."""
    engine = connect(session.config)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    where = display_url(session.config.database_url)
    if before == after:
        click.echo(f"{where}: schema already at the newest revision ({after})")
    else:
        click.echo(f"{where}: schema upgraded from {before or 'empty'} to {after}")


def _source_names(function):  # type: ignore[no-untyped-def]
    return click.argument("names", nargs=-1, metavar="[NAME]...")(function)


_no_wait = click.option(
    "--no-wait",
    is_flag=True,
    help="Exit with an error instead of waiting when another archiver holds a source.",
)


@cli.command()
@_source_names
@_no_wait
@click.pass_obj
def sync(session: Session, names: tuple[str, ...], no_wait: bool) -> None:
    """One incremental pass over the named sources (all when none are named).

    A source never synced before is read in full, as a backfill would. Exits 0 only
    when every selected source succeeded.
    """
    _run_pass(session, names, Mode.SYNC, wait=not no_wait)


@cli.command()
@_source_names
@_no_wait
@click.pass_obj
def backfill(session: Session, names: tuple[str, ...], no_wait: bool) -> None:
    """Walk the whole history each provider still serves; resumes an interrupted backfill."""
    _run_pass(session, names, Mode.BACKFILL, wait=not no_wait)


def _run_pass(session: Session, names: tuple[str, ...], mode: Mode, *, wait: bool) -> None:
    sources = session.config.resolve(names)  # every key is read before any work starts
    archive = session.open()
    results: list[RunResult] = []
    with (
        build_client() as http,
        stop_on_signals(threading.Event()) as stop,
        progress_for_terminal() as progress,
    ):
        engine = SyncEngine(archive, http, stop=stop, progress=progress)
        for source in sources:
            if stop.is_set():
                break
            results.append(engine.run(source, mode, wait=wait))
    for result in results:
        _report(result)
    if len(results) < len(sources) or not all(r.ok for r in results):
        raise click.exceptions.Exit(1)


def _report(result: RunResult) -> None:
    counts = result.counts
    line = (
        f"{result.source}: {result.mode.value} {result.status}: {counts.seen} seen, {counts.new} new, "
        f"{counts.updated} updated, {counts.rejected} rejected, {result.pages} pages"
    )
    if result.gaps:
        line += f", {result.gaps} coverage gap(s) recorded"
    click.echo(line)
    if result.error:
        click.echo(f"archiver: {redact(result.error)}", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(session: Session, as_json: bool) -> None:
    """Per source: last success, watermark, records, files, gaps, health.

    Exits 1 when any source is unhealthy, so cron and monitoring can act on it.
    """
    archive = session.open()
    statuses = collect_status(archive.engine, archive.source_ids, list(archive.config.sources))
    healthy = all(s.healthy for s in statuses)
    if as_json:
        document = {
            "healthy": healthy,
            "generated_at": datetime.now(UTC).isoformat(),
            "database": display_url(archive.config.database_url),
            "schema_revision": head_revision(),
            "sources": [s.to_json() for s in statuses],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        _print_status(statuses)
    if not healthy:
        raise click.exceptions.Exit(1)


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def _print_status(statuses: list[SourceStatus]) -> None:
    console = Console(width=None if sys.stdout.isatty() else 160)
    if not statuses:
        console.print("No sources configured: add [[sources]] to the config file (see README).")
        return
    now = datetime.now(UTC)
    table = Table(title="archiver status")
    for column in (
        "source",
        "provider",
        "health",
        "last success",
        "watermark",
        "items",
        "files",
        "gaps",
        "last error",
    ):
        table.add_column(column)
    for s in statuses:
        files = f"{s.assets['downloaded']} ok / {s.assets['pending']} pending / {s.assets['failed']} failed"
        if s.assets["missing"]:
            files += f" / {s.assets['missing']} missing"
        table.add_row(
            s.name,
            s.provider,
            "[green]ok[/]" if s.healthy else "[red]" + "; ".join(s.problems) + "[/]",
            _age(s.last_success_at, now),
            f"{s.watermark:%Y-%m-%d %H:%M}" if s.watermark else "-",
            str(s.records),
            files,
            str(len(s.open_gaps)),
            s.last_error or "",
        )
    console.print(table)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"archiver: {redact(message)}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: turns errors into one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="archiver", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        _fail("interrupted", 130)
    except ArchiverError as error:
        if debug:
            log.exception("command failed")
        _fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as error:  # a bug: say so in one line unless asked for more
        if debug:
            raise
        first_line = (str(error).strip().splitlines() or [""])[0]
        _fail(
            f"internal error: {type(error).__name__}: {first_line} (run with --debug for details)",
            70,
        )
