"""Settings of the web chat and feedback form channel (channels/webchat.toml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool

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
    form: FeedbackFormSettings = FeedbackFormSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
