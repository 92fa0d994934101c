"""Settings of the email channel (channels/email.toml; the keys CONTRACTS.md fixes, and ours)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, model_validator

from channels.settings import Duration

Security = Literal["tls", "starttls", "none"]
# The status line's name of the [intake] listener's account; no [accounts.NAME] may take it.
LISTENER = "@intake"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImapSettings(_Section):
    """[accounts.NAME.imap]: a mailbox the router reads citizens' mail from."""

    host: str
    port: int = Field(993, ge=1, le=65535)
    security: Security = "tls"
    username: str
    password_file: Path
    folders: list[str] = Field(["INBOX"], min_length=1)
    # Where a committed message is moved; unset, it stays and is flagged \Seen instead. Mail
    # is never deleted by the router.
    processed_folder: str | None = None
    # How often a server without IDLE is asked for new mail, and how long one IDLE lasts
    # before it is renewed (RFC 2177: at least every 29 minutes). Short: a message that came
    # during the last look for new mail before an IDLE (its announcement is lost with that
    # command's answer) is read at the renewal at the latest.
    poll_interval: Duration = 60.0
    idle_renew: Duration = 120.0
    # IDLE where the server offers it; false polls instead (a server whose IDLE is broken).
    idle: StrictBool = True
    # The CA file of the server's certificate when it is not a public one.
    ca_file: Path | None = None


class SmtpSettings(_Section):
    """[accounts.NAME.smtp]: the submission server notices go out through."""

    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Security = "starttls"
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    # The MAIL FROM of notices: the account's address in VERP form (bounces name the notice
    # they report on), or the address itself.
    verp: StrictBool = True
    # How long one submission may take, connecting included.
    timeout: Duration = 60.0

    @model_validator(mode="after")
    def _credentials(self) -> SmtpSettings:
        if (self.username is None) != (self.password_file is None):
            raise ValueError("username and password_file go together")
        return self


class DkimSettings(_Section):
    """[accounts.NAME.dkim]: sign notices (RFC 6376) as `domain` with `selector`."""

    domain: str
    selector: str
    key_file: Path


class EmailAccount(_Section):
    """[accounts.NAME]: one of our addresses."""

    address: EmailStr
    display_name: str = ""
    # The MTA whose Authentication-Results headers count (RFC 8601 authserv-id); unset, no
    # sender is verified.
    authserv_id: str | None = None
    imap: ImapSettings | None = None
    smtp: SmtpSettings | None = None
    dkim: DkimSettings | None = None


class IntakeSettings(_Section):
    """[intake]: a listener an MTA delivers our accounts' mail to."""

    listen: str = Field("127.0.0.1:2525", pattern=r"^[^:\s]+:\d{1,5}$")
    protocol: Literal["lmtp", "smtp"] = "lmtp"


class LoopSettings(_Section):
    """[loops]: what a bounce does. (How many automatic answers one address gets is the
    router's [notifier] limit per contact.)"""

    # A permanent bounce puts the address on the suppression list for this long.
    bounce_suppression: Duration = 30 * 86400.0


class EmailFile(_Section):
    """channels/email.toml."""

    enabled: StrictBool = False
    accounts: dict[str, EmailAccount] = {}
    intake: IntakeSettings | None = None
    loops: LoopSettings = LoopSettings()

    @model_validator(mode="after")
    def _distinct(self) -> EmailFile:
        if LISTENER in self.accounts:
            raise ValueError(f"{LISTENER} is the [intake] listener's name, not an account's")
        addresses = [account.address.lower() for account in self.accounts.values()]
        if len(set(addresses)) != len(addresses):
            raise ValueError("two accounts have the same address")
        return self
