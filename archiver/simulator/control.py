"""`/_sim/...`: the Simulator's Python API over HTTP, for out-of-process runs.

GET takes query parameters, POST a JSON object (either works for every route);
answers are JSON. Times are ISO-8601, durations seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from archiver.simulator.apis.base import Request, Response, json_response

if TYPE_CHECKING:
    from archiver.simulator.simulator import Simulator


def handle_control(sim: Simulator, request: Request, body: bytes) -> Response:
    route = _ROUTES.get(request.path.strip("/"))
    if route is None:
        return json_response(404, {"error": f"no control route {request.path!r}", "routes": sorted(_ROUTES)})
    try:
        args: dict[str, Any] = dict(request.query)
        if body:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("the request body must be a JSON object")
            args.update(payload)
        return json_response(200, route(sim, args))
    except (ValueError, TypeError, KeyError) as problem:
        return json_response(400, {"error": f"{type(problem).__name__}: {problem}"})


def _boolean(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


def _now(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    return {"now": sim.now.isoformat()}


def _advance(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    return {"now": sim.advance(timedelta(seconds=float(args["seconds"]))).isoformat()}


def _seed(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    end = datetime.fromisoformat(args["end"]) if args.get("end") else None
    span = timedelta(seconds=float(args["span_seconds"])) if args.get("span_seconds") else None
    sim.seed(
        args["provider"],
        items=int(args.get("items", 1000)),
        bucket=args.get("bucket", "default"),
        pending=int(args.get("pending", 0)),
        end=end,
        span=span,
    )
    return {"ok": True}


def _add(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    ids = sim.add(
        args["provider"],
        n=int(args.get("n", 5)),
        bucket=args.get("bucket", "default"),
        same_second=_boolean(args.get("same_second", False)),
        pending=int(args.get("pending", 0)),
    )
    return {"ids": ids}


def _finish_pending(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    return {"ids": sim.finish_pending(args["provider"], fail_every=int(args.get("fail_every", 0)))}


def _inject(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    params = args.get("params") or {}
    sim.inject(
        args["provider"],
        args["fault"],
        endpoint=args.get("endpoint", "list"),
        times=int(args.get("times", 1)),
        **params,
    )
    return {"ok": True}


def _requests(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    return {"count": sim.requests(args["provider"], args.get("endpoint", "list"))}


def _reset_requests(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    sim.reset_requests()
    return {"ok": True}


def _truth(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    return {"items": sim.truth(args["provider"], args.get("bucket"))}


def _truth_all(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    return {"items": sim.truth_all(args["provider"], args.get("bucket"))}


def _truth_files(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    return {"files": sim.truth_files(args["provider"])}


def _providers(sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    return {name: {"base_url": sim.base_url(name), "api_key": sim.api_key(name)} for name in sim.router.apis}


_ROUTES: dict[str, Callable[[Simulator, dict[str, Any]], dict[str, Any]]] = {
    "now": _now,
    "advance": _advance,
    "seed": _seed,
    "add": _add,
    "finish_pending": _finish_pending,
    "inject": _inject,
    "requests": _requests,
    "reset_requests": _reset_requests,
    "truth": _truth,
    "truth_all": _truth_all,
    "truth_files": _truth_files,
    "providers": _providers,
}
