"""The installed channels: the one place where router/ meets channel packages.

A channel package registers its plug-in under the entry-point group `omnirouter.channels`
(see pyproject.toml); one installed beside the daemon, as another distribution, is found the
same way. Everything else in router/ knows channels only through channels.contract.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from importlib.metadata import Distribution, entry_points

from channels.contract import Channel, ChannelPlugin, Parser
from channels.openapi import HttpDocs
from normaliser.commands import COMMANDS, CommandTable

GROUP = "omnirouter.channels"
SHIPPED = "omnirouter"  # the distribution the daemon and its own channels come in
# Channels whose config files are shipped but whose adapters are not installed yet: their
# files are checked and must say `enabled = false`.
PLANNED = ("email", "sms", "messenger")


@functools.cache
def installed() -> Mapping[str, ChannelPlugin]:
    """The plug-ins of every installed channel, by config file name. A channel installed as
    another distribution replaces the shipped one of its name (the tests' channel double
    replaces the messenger), so a site can swap a channel without patching ours."""
    plugins: dict[str, ChannelPlugin] = {}
    entries = sorted(entry_points(group=GROUP), key=lambda e: _shipped(e.dist))
    for entry in entries:
        if entry.name in plugins:
            continue  # replaced: never imported
        plugin: ChannelPlugin = entry.load()
        plugins.setdefault(plugin.name, plugin)
    return plugins


def _shipped(dist: Distribution | None) -> bool:
    """Whether an entry point is this distribution's own (sorted after other distributions')."""
    return dist is not None and dist.name == SHIPPED


def planned() -> list[str]:
    """Planned channels that are not installed."""
    return [name for name in PLANNED if name not in installed()]


@functools.cache
def parsers() -> Mapping[Channel, Parser]:
    """How the intake reads what each installed channel receives, by channel."""
    return {channel: p for plugin in installed().values() for channel, p in plugin.parsers.items()}


def command_tables(plugins: Iterable[ChannelPlugin]) -> dict[str, CommandTable]:
    """The command table of each channel that adds rows of its own: those rows, then the
    shared ones (a channel missing here reads the shared table alone)."""
    return {
        channel: COMMANDS.with_rows(rows)
        for plugin in plugins
        for channel, rows in plugin.commands.items()
    }


def http_docs() -> list[HttpDocs]:
    """The OpenAPI description of every installed channel's HTTP routes."""
    return [plugin.http_docs for plugin in installed().values()]
