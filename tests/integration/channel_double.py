"""A test-only channel plug-in (never shipped): accounts that stay up or crash on purpose.

Registered for a test daemon through an entry point in a dist-info folder on its PYTHONPATH,
as a third-party channel package would be; it stands in for the messenger channel, whose
adapter is not installed yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, cast

import trio
from pydantic import BaseModel, ConfigDict
from starlette.routing import BaseRoute

from channels.contract import AccountSpec, Adapter, Channel, CommandRow, Deliver, Lane, Ports


class DoubleAccount(BaseModel):
    """[accounts.NAME]: `steady` stays up; `crashing` fails a moment after each start."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    behaviour: Literal["steady", "crashing"] = "steady"


class DoubleFile(BaseModel):
    """channels/messenger.toml as the double reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = False
    accounts: dict[str, DoubleAccount] = {}


class DoubleAdapter:
    """Counts its runs; a crashing one raises 50 ms after it said it was up."""

    channel: Channel = "messenger"
    deliver: Deliver | None = None
    websocket_max_message = 0
    lane = Lane()

    def __init__(self, spec: AccountSpec) -> None:
        self.account = spec.account
        self.behaviour = cast(DoubleAccount, spec.settings).behaviour
        self.runs = 0

    def routes(self) -> Sequence[BaseRoute]:
        return []

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.runs += 1
        task_status.started()
        if self.behaviour == "crashing":
            await trio.sleep(0.05)
            raise ConnectionResetError(f"the double's peer hung up (run {self.runs})")
        await trio.sleep_forever()

    def stop_intake(self) -> None:
        pass

    def detail(self) -> dict[str, object]:
        return {"runs": self.runs}


class DoublePlugin:
    """The plug-in the entry point names."""

    name = "messenger"
    settings_model: type[BaseModel] = DoubleFile
    # As a Telegram bot would: the app sends "/start" when a citizen first opens the bot.
    commands: Mapping[Channel, Sequence[CommandRow]] = {
        "messenger": (CommandRow("help", None, ("/start",)),)
    }

    def accounts(self, settings: BaseModel) -> list[AccountSpec]:
        file = cast(DoubleFile, settings)
        if not file.enabled:
            return []
        return [AccountSpec("messenger", name, spec) for name, spec in file.accounts.items()]

    def build(self, spec: AccountSpec, settings: Callable[[], BaseModel], ports: Ports) -> Adapter:
        return DoubleAdapter(spec)


PLUGIN = DoublePlugin()


def install(site: Path) -> Path:
    """A dist-info in `site` whose entry point registers the double; put `site` on the path."""
    info = site / "omnirouter_channel_double-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: omnirouter-channel-double\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[omnirouter.channels]\nmessenger = tests.integration.channel_double:PLUGIN\n"
    )
    return site
