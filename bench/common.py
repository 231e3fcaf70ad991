"""What the benchmarks of `bench/run.py` share: the simulator process, scratch archives,
measured `archiver` subprocesses and the rows of the one results table.

The simulator always runs in its own process (reached only through `/_sim/`), so the
archiver and the fake it talks to never share a GIL; everything the archiver does is
measured beside a limit taken in the same run, because only ratios hold on a noisy
shared machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from bench_simulator import Target, simulator
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KEY_ENV = {
    "qaves": "BENCH_QAVES_KEY",
    "aurous": "BENCH_AUROUS_KEY",
    "imaginepro": "BENCH_IMAGINEPRO_KEY",
    "apimall": "BENCH_APIMALL_KEY",
}


class Sim:
    """The out-of-process simulator, through its control API (seeding and request counts)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.control = target.control
        # In-process benchmarks read the keys where the configs say, as children do.
        os.environ.update({KEY_ENV[name]: info["api_key"] for name, info in target.providers.items()})

    def seed(self, provider: str, items: int, bucket: str = "default") -> None:
        payload = {"provider": provider, "items": items, "bucket": bucket}
        self.control.post("/seed", json=payload).raise_for_status()

    def list_requests(self, provider: str) -> int:
        answer = self.control.get("/requests", params={"provider": provider, "endpoint": "list"})
        return int(answer.raise_for_status().json()["count"])

    def reset_requests(self) -> None:
        self.control.post("/reset_requests").raise_for_status()

    def base_url(self, provider: str) -> str:
        return str(self.target.providers[provider]["base_url"])

    def environment(self) -> dict[str, str]:
        """The environment of a child `archiver`: ours, which holds every provider's key."""
        return dict(os.environ)


@contextmanager
def running_simulator() -> Iterator[Sim]:
    """Start `archiver.simulator.serve` in a child process (bench_simulator's launcher)."""
    with simulator(in_process=False) as target:
        yield Sim(target)


@dataclass(frozen=True)
class SourceSpec:
    """One `[[sources]]` table of a scratch config."""

    name: str
    provider: str
    bucket: str | None = None
    interval: str = "1h"


def write_config(folder: Path, database_url: str, sim: Sim, sources: list[SourceSpec]) -> Path:
    """An archiver.toml for `sources` on the simulator; records only (download = false)."""
    folder.mkdir(parents=True, exist_ok=True)
    blocks = [f'[archive]\ndatabase_url = "{database_url}"\nfiles_dir = "{folder / "files"}"\n']
    for source in sources:
        block = (
            f'[[sources]]\nname = "{source.name}"\nprovider = "{source.provider}"\n'
            f'api_key_env = "{KEY_ENV[source.provider]}"\nbase_url = "{sim.base_url(source.provider)}"\n'
            f'interval = "{source.interval}"\ndownload = false\n'
        )
        if source.bucket is not None:
            block += f'buckets = ["{source.bucket}"]\n'
        blocks.append(block)
    path = folder / "archiver.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'archive.db'}"


def postgres_reachable(admin_url: str) -> bool:
    engine = create_engine(make_url(admin_url))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@dataclass
class Measured:
    """A finished child process: wall seconds, CPU seconds (user + system), peak RSS."""

    returncode: int
    wall: float
    cpu: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    def check(self, what: str) -> Measured:
        if self.returncode != 0:
            tail = (self.stdout + self.stderr).strip().splitlines()[-5:]
            raise RuntimeError(f"{what} exited {self.returncode}: " + " | ".join(tail))
        return self


def run_measured(argv: list[str], env: dict[str, str], folder: Path) -> Measured:
    """Run a child to its end: CPU from `wait4`, peak RSS from the kernel's `VmHWM`.

    Not `ru_maxrss`: Linux folds the pre-exec image (a fork of this ~100 MB benchmark
    process) into it, so every child would seem to peak at our size. `VmHWM` belongs to
    the child's own address space; it only grows, so its last reading is the peak up
    to the final 50 ms.
    """
    out, err = folder / "stdout.log", folder / "stderr.log"
    peak_kb = 0
    with out.open("w") as stdout, err.open("w") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, high_water_kb(process.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=process.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=peak_kb / 1024,
        stdout=out.read_text(errors="replace"),
        stderr=err.read_text(errors="replace"),
    )


def high_water_kb(pid: int) -> int:
    """Peak resident set of a live process (`VmHWM`, kB); 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def archiver_argv(config: Path, *command: str) -> list[str]:
    return [sys.executable, "-m", "archiver", "--config", str(config), "--log-format", "json", *command]


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def wait_until(condition: Any, timeout: float, what: str, poll: float = 0.2) -> None:
    """Poll `condition()` until true; the benchmark cannot go on without it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


@dataclass
class Row:
    """One line of the results table: a figure, the limit it is held against, the verdict."""

    bench: str
    case: str
    figure: str
    limit: str = ""
    ratio: str = ""
    target: str = ""
    holds: bool | None = None
    numbers: dict[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        verdict = {True: "yes", False: "**no**", None: ""}[self.holds]
        cells = (self.bench, self.case, self.figure, self.limit, self.ratio, self.target, verdict)
        return "| " + " | ".join(cells) + " |"


TABLE_HEAD = (
    "| benchmark | case | measured | limit (same run) | ratio | target | holds |\n"
    "| --- | --- | --- | --- | ---: | --- | --- |"
)


@dataclass(frozen=True)
class BuiltArchive:
    """A SQLite archive of one qaves bucket, built by a real `archiver backfill` subprocess."""

    items: int
    config: Path
    folder: Path
    backfill: Measured


@dataclass
class Context:
    """One run of `bench/run.py`: the simulator, a scratch folder, and what earlier
    benchmarks built that later ones may reuse (the 1M-item archive costs minutes)."""

    sim: Sim
    workdir: Path
    quick: bool
    pg_url: str | None
    built: dict[int, BuiltArchive] = field(default_factory=dict)

    def qaves_archive(self, items: int) -> BuiltArchive:
        """The archive of qaves bucket `h<items>`, seeded once per run and never re-seeded,
        so the simulator keeps serving exactly the history the archive was built from."""
        if items not in self.built:
            bucket = f"h{items}"
            self.sim.seed("qaves", items, bucket)
            folder = self.workdir / f"qaves-{bucket}"
            spec = [SourceSpec("qaves", "qaves", bucket)]
            config = write_config(folder, sqlite_url(folder), self.sim, spec)
            argv = archiver_argv(config, "backfill", "--no-download")
            measured = run_measured(argv, self.sim.environment(), folder)
            measured.check(f"backfill of {items:,} items")
            self.built[items] = BuiltArchive(items, config, folder, measured)
        return self.built[items]
