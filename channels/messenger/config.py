"""Settings of the messenger channel (channels/messenger.toml: the keys CONTRACTS.md fixes,
and ours)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from channels.settings import Duration

# The Bot API's own limits (core.telegram.org/bots/api#getfile, #sending-files, /bots/faq):
# a bot downloads files of at most 20 MB from the cloud service; a local Bot API server has
# no such limit. Broadcasts go at most 30 messages a second, one a second to a chat.
CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024
TELEGRAM_API = "https://api.telegram.org"


class MessengerAccount(BaseModel):
    """[accounts.NAME]: one bot."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["telegram"] = "telegram"
    token_file: Path
    # Requests go to {api_url}/bot{TOKEN}/{method}, files to {api_url}/file/bot{TOKEN}/{path}.
    api_url: str = Field(TELEGRAM_API, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # A local Bot API server (github.com/tdlib/telegram-bot-api --local): files of any size,
    # handed over as paths on its disk.
    local_server: StrictBool = False
    mode: Literal["polling", "webhook"] = "polling"
    # Telegram posts only to HTTPS (on 443, 80, 88 or 8443): a proxy in front of our listener
    # ends TLS; plain HTTP is for a local Bot API server.
    webhook_url: str | None = Field(None, pattern=r"^https?://\S+$")
    webhook_secret_file: Path | None = None
    per_chat_rate: float = Field(1.0, gt=0)
    global_rate: float = Field(30.0, gt=0)
    # How long one getUpdates waits for an update (Telegram allows up to 50 s).
    poll_timeout: Duration = 25.0

    @model_validator(mode="after")
    def _webhook_named(self) -> MessengerAccount:
        if self.mode == "webhook" and (
            self.webhook_url is None or self.webhook_secret_file is None
        ):
            raise ValueError('mode = "webhook" needs webhook_url and webhook_secret_file')
        return self

    @property
    def download_limit(self) -> int | None:
        """The largest file the bot may download (None: a local server's, unlimited)."""
        return None if self.local_server else CLOUD_DOWNLOAD_LIMIT


class MessengerFile(BaseModel):
    """channels/messenger.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: StrictBool = False
    accounts: dict[str, MessengerAccount] = {}
