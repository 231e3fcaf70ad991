"""A faithful local HTTP fake of the four providers, written from `provider-docs/` alone.

It imports nothing from `archiver.providers`, `archiver.sync` or `archiver.db`:
a fake that shares code with what it fakes shares its bugs. See README.md in
this folder for every reading of the docs it makes. In short:

- Each provider lives under `/<provider>` of one loopback server and follows its
  doc to the letter (paths, auth headers, parameter ranges, envelopes, errors).
- qaves: `before` is exclusive; `next_before` is the created_at of the page's
  last item (so same-second bursts split by a page are a realistic trap).
- Aurous: strict `starting_after`/`ending_before`; signed output URLs expire
  `token_ttl` of simulated time after the listing that issued them.
- ImaginePro: only items created within the last 24 hours of `sim.now`;
  `size` 1-100, default 10.
- APIMall: `limit` 1-50; every error in the documented envelope.
- Every response has a `Date` header on the simulated clock.

    with Simulator(seed=1) as sim:
        sim.seed("qaves", items=1000)
        httpx.get(f"{sim.base_url('qaves')}/api/v1/images/generations",
                  headers={"Authorization": f"Bearer {sim.api_key('qaves')}"})
"""

from archiver.simulator.run import serve
from archiver.simulator.simulator import Simulator
from archiver.simulator.world import PROVIDERS

__all__ = ["PROVIDERS", "Simulator", "serve"]
