"""`serve()`: the simulator as a long-running process (`archiver simulate --port N`)."""

from __future__ import annotations

import signal
import threading

from archiver.simulator.simulator import Simulator
from archiver.simulator.world import PROVIDERS


def serve(host: str = "127.0.0.1", port: int = 8700, seed: int = 1, items: int = 200) -> None:
    """Seed every provider with `items` items and serve until SIGINT or SIGTERM."""
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    sim = Simulator(seed=seed, host=host, port=port).start()
    try:
        for provider in PROVIDERS:
            sim.seed(provider, items=items)
        print(f"provider simulator on {sim.url} (control API under {sim.url}/_sim/)", flush=True)
        for provider in PROVIDERS:
            print(f"  {provider:<10} base_url={sim.base_url(provider)}  key={sim.api_key(provider)}")
        print("Ctrl-C or SIGTERM stops it.", flush=True)
        stop.wait()
    finally:
        sim.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
