"""The `archiver` command line (INTERFACE.md). Thin: parse, call, report.

User errors (`ArchiverError`) print one line and exit non-zero; anything else is a
bug, shown as one line too unless `--debug` asks for the traceback.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.progress import Progress as RichBar
from rich.table import Table

from archiver import __version__
from archiver.archive import Archive, connect, open_archive
from archiver.config import Config, load_config
from archiver.daemon import Daemon
from archiver.db.engine import display_url
from archiver.db.migrate import head_revision, upgrade
from archiver.demo import run_demo
from archiver.errors import ArchiverError, ConfigError
from archiver.files import SourceReport, sweep_temp_files, verify
from archiver.http import build_client
from archiver.log import LogFormat, configure_logging, get_logger, redact
from archiver.passes import PassResult, make_downloader, run_source_pass
from archiver.progress import progress_for_terminal
from archiver.signals import stop_on_signals
from archiver.simulator import serve
from archiver.status import SourceStatus, collect_status
from archiver.sync import Mode, SyncEngine

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


_no_download = click.option(
    "--no-download", is_flag=True, help="Archive the records only; fetch files later."
)


@cli.command()
@_source_names
@_no_download
@_no_wait
@click.pass_obj
def sync(session: Session, names: tuple[str, ...], no_download: bool, no_wait: bool) -> None:
    """One incremental pass over the named sources (all when none are named), then
    download the files still missing.

    A source never synced before is read in full, as a backfill would. Exits 0 only
    when every selected source succeeded.
    """
    _run_pass(session, names, Mode.SYNC, download=not no_download, wait=not no_wait)


@cli.command()
@_source_names
@_no_download
@_no_wait
@click.pass_obj
def backfill(session: Session, names: tuple[str, ...], no_download: bool, no_wait: bool) -> None:
    """Walk the whole history each provider still serves; resumes an interrupted backfill."""
    _run_pass(session, names, Mode.BACKFILL, download=not no_download, wait=not no_wait)


def _run_pass(session: Session, names: tuple[str, ...], mode: Mode, *, download: bool, wait: bool) -> None:
    sources = session.config.resolve(names)  # every key is read before any work starts
    archive = session.open()
    if download:
        sweep_temp_files(archive.config.files_dir)
    results: list[PassResult] = []
    with (
        build_client() as http,
        stop_on_signals(threading.Event()) as stop,
        progress_for_terminal() as progress,
    ):
        engine = SyncEngine(archive, http, stop=stop, progress=progress)
        for source in sources:
            if stop.is_set():
                break
            results.append(run_source_pass(archive, http, engine, source, mode, download=download, wait=wait))
    for result in results:
        _report(result)
    if len(results) < len(sources) or not all(r.ok for r in results):
        raise click.exceptions.Exit(1)


def _report(result: PassResult) -> None:
    run, counts = result.run, result.run.counts
    line = (
        f"{run.source}: {run.mode.value} {run.status}: {counts.seen} seen, {counts.new} new, "
        f"{counts.updated} updated, {counts.rejected} rejected, {run.pages} pages"
    )
    if run.gaps:
        line += f", {run.gaps} coverage gap(s) recorded"
    if result.downloads is not None:
        files = result.downloads.sources.get(run.source)
        if files is not None:
            line += f"; files: {files.downloaded} downloaded, {files.failed} failed, {files.missing} missing"
    click.echo(line)
    if run.error:
        click.echo(f"archiver: {redact(run.error)}", err=True)


@cli.command()
@click.pass_obj
def daemon(session: Session) -> None:
    """Run scheduled syncs of every source until SIGTERM or SIGINT, then finish the
    page in hand and exit 0 (systemd: Type=notify, watchdog)."""
    sources = session.config.resolve()
    if not sources:
        raise ConfigError(f"{session.config.path}: no [[sources]] to schedule")
    archive = session.open()
    with build_client() as http, stop_on_signals(threading.Event()) as stop:
        code = Daemon(archive, http, sources, stop).run()
    raise click.exceptions.Exit(code)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8700, show_default=True, help="Port to listen on.")
@click.option("--seed", default=1, show_default=True, help="Seed of the generated histories.")
@click.option("--items", default=200, show_default=True, help="History items per provider.")
def simulate(host: str, port: int, seed: int, items: int) -> None:
    """Serve a local fake of all four providers (for trying the archiver without keys)."""
    serve(host=host, port=port, seed=seed, items=items)


@cli.command()
@click.option(
    "--dir",
    "folder",
    default="archiver-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the demo config, archive and files go.",
)
@click.option("--items", default=120, show_default=True, help="History items per provider.")
def demo(folder: str, items: int) -> None:
    """Archive a simulated history of all four providers into a local SQLite archive,
    then show status and example SQL. Needs no keys and no network."""
    run_demo(Path(folder), items)


@cli.command()
@_source_names
@click.pass_obj
def download(session: Session, names: tuple[str, ...]) -> None:
    """Download the pending and retryable files of the named sources (all when none).

    Exits 0 only when no file failed in this run; a file the provider no longer serves
    becomes `missing`, is reported, and does not fail the run.
    """
    selected = session.config.resolve(names)
    for source in selected:
        if not source.download:
            click.echo(f"{source.name}: skipped (download = false in the config)")
    sources = [source for source in selected if source.download]
    archive = session.open()
    swept = sweep_temp_files(archive.config.files_dir)
    if swept:
        log.info("removed temp files left by an interrupted download", count=swept)
    with build_client() as http, stop_on_signals(threading.Event()) as stop:
        downloader = make_downloader(archive, http, SyncEngine(archive, http, stop=stop), sources)
        report = downloader.run({s.name: archive.source_ids[s.name] for s in sources}, stop=stop)
    for name, source_report in report.sources.items():
        click.echo(_download_line(name, source_report))
    if stop.is_set() or not report.ok:
        raise click.exceptions.Exit(1)


def _download_line(name: str, report: SourceReport) -> str:
    line = f"{name}: {report.downloaded} downloaded ({report.bytes / 1e6:,.1f} MB), {report.failed} failed"
    if report.missing:
        line += f", {report.missing} missing"
    if report.refreshed:
        line += ", file URLs refreshed"
    if report.stopped_early:
        line += f"; stopped early: {report.stopped_early}"
    if report.errors:
        line += f"; first errors: {' | '.join(report.errors)}"
    return redact(line)


@cli.command(name="verify")
@click.option("--repair", is_flag=True, help="Mark missing and corrupt files for download again.")
@click.pass_obj
def verify_files(session: Session, repair: bool) -> None:
    """Re-hash every archived file; report missing and corrupt ones (exit 1 when any).

    With --repair their assets become pending again, so the next `archiver download`
    (or sync) fetches them anew.
    """
    archive = session.open()
    with _verify_bar() as progress:
        report = verify(archive.engine, archive.config.files_dir, repair=repair, progress=progress)
    for problem in report.problems:
        ids = ", ".join(str(i) for i in problem.asset_ids)
        click.echo(f"{problem.kind}: {problem.path} (asset {ids})")
    line = f"verified {report.files} files ({report.bytes / 1e6:,.1f} MB): "
    line += f"{len(report.missing)} missing, {len(report.corrupt)} corrupt"
    if repair and report.problems:
        line += f"; {report.repaired_assets} assets marked for download again (run `archiver download`)"
    click.echo(line)
    if not report.ok:
        raise click.exceptions.Exit(1)


@contextmanager
def _verify_bar() -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on a terminal; nothing otherwise (the summary line says it all)."""
    if not sys.stderr.isatty():
        yield None
        return
    with RichBar(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("verifying files", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


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
        code = cli.main(args=argv, prog_name="archiver", standalone_mode=False)
        if isinstance(code, int) and code:  # click returns an Exit's code in this mode
            sys.exit(code)
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
