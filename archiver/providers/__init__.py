"""The provider registry: the only place that knows every provider by its config key."""

from __future__ import annotations

from archiver.providers.apimall import ApiMall
from archiver.providers.aurous import Aurous
from archiver.providers.base import Provider
from archiver.providers.imaginepro import ImaginePro
from archiver.providers.qaves import Qaves

PROVIDERS: dict[str, type[Provider]] = {cls.key: cls for cls in (Qaves, Aurous, ImaginePro, ApiMall)}


def provider_class(key: str) -> type[Provider]:
    """The provider class for a config `provider` value; KeyError for an unknown one."""
    return PROVIDERS[key]


__all__ = ["PROVIDERS", "Provider", "provider_class"]
