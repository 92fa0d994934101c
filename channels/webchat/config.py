"""Settings of the web chat and feedback form channel (channels/webchat.toml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from channels.settings import Duration

from .limits import RateLimitSettings


class FeedbackFormSettings(BaseModel):
    """The portal's feedback form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str = "portal-form"
    # Request types the portal sends, mapped to a subject code ("": classify from the text).
    types: dict[str, str] = {
        "technical_problem": "11",
        "service_question": "",
        "suggestion": "08",
    }
    max_name_chars: int = Field(200, ge=1)
    # DOMAIN.md: the portal's form takes attachments; per-file and total sizes are set in
    # router.toml [attachments.limits.form].
    max_files: int = Field(5, ge=0, le=20)


class WebchatSettings(BaseModel):
    """channels/webchat.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: StrictBool = True
    account: str = "portal"
    # 4,000 characters is about two printed pages: more than any chat message, less than a
    # pasted document, which belongs in an attachment.
    max_text_chars: int = Field(4000, ge=1, le=100_000)
    # Largest WebSocket frame read; a bigger one closes the connection (RFC 6455 code 1009).
    max_frame_bytes: int = Field(65536, ge=1024, le=16 * 1024 * 1024)
    # Pages allowed to open chat sockets, e.g. "https://www.gosuslugi.ru"; empty allows only
    # the daemon's own /chat/ page. Browsers always send Origin on WebSocket handshakes, so
    # this stops other sites' pages from opening chats in their visitors' names.
    allowed_origins: list[str] = []
    # The portal's HMAC-SHA256 key for the signed identity of its logged-in users (CONTRACTS.md);
    # unset, a presented identity is refused and every chat is anonymous.
    identity_secret_file: Path | None = None
    # A signed identity is good this long after the portal issued it: long enough for a page
    # to load on a slow link, short enough that a copied one is soon useless.
    identity_max_age: Duration = 300.0
    # DOMAIN.md: after 15 minutes without activity the dialogue goes offline.
    inactivity_timeout: Duration = 900.0
    # Chat sockets open at once per client address (as a trusted proxy names it: behind one,
    # the listener's per-connection cap sees only the proxy). An office behind one address
    # with a tab or two each stays well under it.
    max_sockets_per_address: int = Field(100, ge=1)
    form: FeedbackFormSettings = FeedbackFormSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
