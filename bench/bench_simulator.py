"""How fast the provider simulator serves listings and files on this machine.

Run: `.venv/bin/python bench/bench_simulator.py [--seconds 3] [--items 100000] [--in-process]`.
Prints a markdown table. Each client is a bare `httpx.Client` on its own thread,
walking a 100k-item history the documented way (cursor or page number), 100
items per page (APIMall: its maximum, 50), or fetching file URLs in a loop.
By default the simulator runs in its own process (`serve()`), driven through
`/_sim/`, so clients and server do not share one GIL; `--in-process` measures
the in-process `Simulator` that the test suite uses.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import httpx

from archiver.simulator import PROVIDERS, Simulator

LIST_PATHS = {
    "qaves": "/api/v1/images/generations",
    "aurous": "/v1/images",
    "imaginepro": "/api/v1/nova/images",
    "apimall": "/api/v1/images/history",
}


class Target:
    """A running simulator reached only over HTTP: its `/_sim/` API and provider table."""

    def __init__(self, url: str) -> None:
        self.control = httpx.Client(base_url=f"{url}/_sim", timeout=600)
        self.providers = self.control.get("/providers").json()

    def seed(self, provider: str, items: int) -> None:
        self.control.post("/seed", json={"provider": provider, "items": items}).raise_for_status()

    def file_urls(self, provider: str) -> list[str]:
        return list(self.control.get("/truth_files", params={"provider": provider}).json()["files"])

    def list_url(self, provider: str) -> str:
        return self.providers[provider]["base_url"] + LIST_PATHS[provider]

    def headers(self, provider: str) -> dict[str, str]:
        key = self.providers[provider]["api_key"]
        return {"X-Api-Key": key} if provider == "aurous" else {"Authorization": f"Bearer {key}"}


@contextlib.contextmanager
def simulator(in_process: bool) -> Iterator[Target]:
    if in_process:
        with Simulator(seed=1) as sim:
            yield Target(sim.url)
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = f"from archiver.simulator import serve; serve(port={port}, items=0)"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                yield Target(f"http://127.0.0.1:{port}")
                return
            time.sleep(0.05)
        raise RuntimeError("the simulator did not start")
    finally:
        process.terminate()
        process.wait(timeout=10)


def page_walker(target: Target, provider: str, restart: bool = True) -> Callable[[httpx.Client], int]:
    """A closure fetching the next page of a walk; returns items read. At the end of the
    history it starts again from the top, or with `restart=False` reads nothing more."""
    url = target.list_url(provider)
    auth = target.headers(provider)
    state: dict[str, object] = {}

    def next_page(client: httpx.Client) -> int:
        if state.get("ended") and not restart:
            return 0
        if provider in ("qaves", "aurous"):
            cursor = state.get("cursor")
            name = "before" if provider == "qaves" else "starting_after"
            params = {"limit": 100, **({name: cursor} if cursor else {})}
            body = client.get(url, params=params, headers=auth).json()
            state["cursor"] = body["next_before" if provider == "qaves" else "next_cursor"]
            state["ended"] = state["cursor"] is None
            return len(body["data"])
        page = int(state.get("page", 0)) + 1
        size = {"size": 100} if provider == "imaginepro" else {"limit": 50}
        body = client.get(url, params={"page": page, **size}, headers=auth).json()
        items = body["images"] if provider == "imaginepro" else body["data"]["items"]
        state["page"] = page if items else 0
        state["ended"] = not items
        return len(items)

    return next_page


def run_clients(
    clients: int, seconds: float, make_step: Callable[[], Callable[[httpx.Client], int]]
) -> tuple[int, int, float]:
    """(requests, units, elapsed) of `clients` threads each looping its own step."""
    totals = [0, 0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client_loop() -> None:
        step = make_step()
        done = units = 0
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < deadline:
                units += step(client)
                done += 1
        with lock:
            totals[0] += done
            totals[1] += units

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return totals[0], totals[1], time.monotonic() - started


def file_fetcher(urls: list[str]) -> Callable[[], Callable[[httpx.Client], int]]:
    def make() -> Callable[[httpx.Client], int]:
        position = [0]

        def fetch(client: httpx.Client) -> int:
            url = urls[position[0] % len(urls)]
            position[0] += 1
            return len(client.get(url).content)

        return fetch

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    with simulator(args.in_process) as target:
        started = time.monotonic()
        for provider in PROVIDERS:
            target.seed(provider, items=args.items)
        seeding = time.monotonic() - started
        where = "in this process" if args.in_process else "in its own process"
        print(f"simulator {where}; {args.items:,} items per provider seeded in {seeding * 1000:.0f} ms")
        print()
        print("| what | clients | requests/s | items or MB/s |")
        print("| --- | ---: | ---: | ---: |")
        for provider in PROVIDERS:
            for clients in args.clients:
                requests, items, elapsed = run_clients(
                    clients, args.seconds, lambda p=provider: page_walker(target, p)
                )
                print(
                    f"| {provider} list pages | {clients} | {requests / elapsed:,.0f} "
                    f"| {items / elapsed:,.0f} items/s |"
                )
        target.seed("qaves", items=400)
        urls = target.file_urls("qaves")
        for clients in args.clients:
            requests, size, elapsed = run_clients(clients, args.seconds, file_fetcher(urls))
            print(
                f"| qaves PNG files | {clients} | {requests / elapsed:,.0f} "
                f"| {size / elapsed / 1e6:,.1f} MB/s |"
            )


if __name__ == "__main__":
    main()
