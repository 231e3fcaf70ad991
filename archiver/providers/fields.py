"""Field types the providers' item models share: ids and timestamps, validated once.

Every timestamp leaves here as an aware UTC datetime, whatever the provider sent.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

# Epoch values above this are milliseconds: as seconds it would be the year 5138.
_MILLISECONDS_FROM = 10**11
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def from_epoch(value: Any) -> datetime:
    """Epoch seconds (int, or a float that JSON gave us) to aware UTC."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected epoch seconds, got {value!r:.40}")
    return datetime.fromtimestamp(value, UTC)


def from_iso(value: Any) -> datetime:
    """ISO-8601 to aware UTC; a timestamp without offset is taken as UTC."""
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 string, got {value!r:.40}")
    moment = datetime.fromisoformat(value.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def from_timestamp_string(value: Any) -> datetime:
    """A timestamp string of unstated format: ISO-8601, epoch seconds or milliseconds."""
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        number = float(value)
        return from_epoch(number / 1000 if abs(number) >= _MILLISECONDS_FROM else number)
    return from_iso(value)


def is_plain_id(value: Any) -> bool:
    """A usable external id: a non-empty string without control characters (a NUL
    cannot be stored in a Postgres text column). Anything else printable is data."""
    return isinstance(value, str) and bool(value) and _CONTROL_CHARACTER.search(value) is None


def _plain_id(value: str) -> str:
    if not is_plain_id(value):
        raise ValueError("the id is empty or holds control characters")
    return value


ExternalId = Annotated[str, AfterValidator(_plain_id)]
EpochTime = Annotated[datetime, BeforeValidator(from_epoch)]
IsoTime = Annotated[datetime, BeforeValidator(from_iso)]
AnyTime = Annotated[datetime, BeforeValidator(from_timestamp_string)]
