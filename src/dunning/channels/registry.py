"""Channel kinds register a factory under a unique name; channels are built from :class:`ChannelSettings`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from dunning.channels.base import Capabilities, Channel
from dunning.config import ChannelSettings
from dunning.errors import ConfigError

ChannelFactory = Callable[..., Channel]

_FACTORIES: dict[str, ChannelFactory] = {}

# Modules that register built-in kinds when imported; imported lazily so that an optional SDK that is not
# installed only matters to the kind that needs it.
_BUILTIN_MODULES: dict[str, str] = {
    "sandbox": "dunning.channels.sandbox",
    "smpp": "dunning.channels.smpp",
    "http": "dunning.channels.http",
    "aliyun": "dunning.channels.aliyun",
    "tencent": "dunning.channels.tencent",
    "twilio": "dunning.channels.twilio",
}


def register(kind: str) -> Callable[[ChannelFactory], ChannelFactory]:
    """Class or function decorator; refuses a second registration of the same kind."""

    def deco(factory: ChannelFactory) -> ChannelFactory:
        if kind in _FACTORIES and _FACTORIES[kind] is not factory:
            raise ConfigError(f"通道类型 {kind} 已注册，不能重复注册", f"channel kind {kind!r} is already registered")
        _FACTORIES[kind] = factory
        return factory

    return deco


def _load(kind: str) -> ChannelFactory:
    if kind not in _FACTORIES and kind in _BUILTIN_MODULES:
        try:
            importlib.import_module(_BUILTIN_MODULES[kind])
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"通道类型 {kind} 不可用：{exc.name} 未安装。请安装通道扩展：pip install 'dunning[channels]'",
                f"channel kind {kind!r} unavailable: {exc.name} missing. Install the channels extra: "
                "pip install 'dunning[channels]'",
            ) from exc
    try:
        return _FACTORIES[kind]
    except KeyError:
        known = ", ".join(sorted(set(_FACTORIES) | set(_BUILTIN_MODULES)))
        raise ConfigError(f"未知的通道类型 {kind}（可用：{known}）", f"unknown channel kind {kind!r} (known: {known})") from None


def kinds() -> list[str]:
    return sorted(set(_FACTORIES) | set(_BUILTIN_MODULES))


def capabilities_of(kind: str) -> Capabilities:
    """The class-level capabilities of a kind (loads its module); ConfigError when unknown or unavailable."""
    caps = getattr(_load(kind), "capabilities", None)
    if not isinstance(caps, Capabilities):
        raise ConfigError(f"通道类型 {kind} 未声明能力", f"channel kind {kind!r} declares no capabilities")
    return caps


def create(name: str, settings: ChannelSettings, **io: Any) -> Channel:
    """Build the channel ``name``; ``io`` carries injected seams (``transport``, ``clock``, ``address``...)."""
    factory = _load(settings.kind)
    return factory(name, settings, **io)
