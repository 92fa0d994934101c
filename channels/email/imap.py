"""Citizens' mail read from an account's IMAP folders (aioimaplib, in the daemon's asyncio loop).

Each folder has a connection of its own. A message is committed through the intake together
with the folder's UIDVALIDITY and last UID (the account's state), and only then moved to
`processed_folder` (MOVE, else COPY and \\Deleted, expunged by UID with UIDPLUS) or flagged
\\Seen: never deleted by us. After a crash between the commit and the move, the next start
moves what the state says is committed. RFC822.SIZE is checked before a message is fetched:
one over the limit stays on the server, flagged, and only its header is committed, flagged
`oversize`. IDLE waits for new mail where the server has it (renewed every
`idle_renew`), polling every `poll_interval` where not; after mail was taken the folder is
looked at again at once, as what came meanwhile may have been announced already. A lost
connection ends the account, and the supervisor connects again after its jittered backoff: the
state says where to go on.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import ssl
from collections.abc import Callable
from pathlib import Path

import msgspec
import trio
import trio_asyncio
from aioimaplib import aioimaplib

from channels.contract import Ports, Received

from . import inbound
from .config import ImapSettings

log = logging.getLogger(__name__)
# Flags we leave on a message we did not fetch because it is too big: for the mailbox's owner
# to see in any client, and for us to know it is dealt with.
OVERSIZE_FLAGS = "(\\Flagged $TooBig)"
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCHED = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)")
_CAPABILITY_CODE = re.compile(rb"\[CAPABILITY ([^\]]*)\]", re.IGNORECASE)
# How long one IMAP command may take before the connection counts as lost.
COMMAND_TIMEOUT = 60.0


class FolderState(msgspec.Struct, frozen=True):
    """Where reading a folder stands: its UIDVALIDITY and the last UID committed."""

    uidvalidity: int
    last_uid: int = 0


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(FolderState)


class ImapError(ConnectionError):
    """The server refused a command, or the connection failed: the account starts again."""


class FolderReader:
    """One folder of one account's mailbox."""

    def __init__(
        self,
        account: str,
        settings: ImapSettings,
        folder: str,
        ports: Ports,
        password: str,
        limit: Callable[[], int],
        ca_file: Path | None,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self.account = account
        self.settings = settings
        self.folder = folder
        self.ports = ports
        self.password = password
        self.limit = limit
        self.ca_file = ca_file
        # The daemon is stopping: intake first (SIGTERM), so no more mail is taken, and what
        # stays on the server is read at the next start.
        self.stopped = stopped
        self.key = f"{account}/imap/{folder}"
        self.client: aioimaplib.IMAP4 | None = None
        # Why the connection is gone, once it is: every command after it fails at once.
        self.lost: str | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read the folder until cancelled; ImapError when the connection fails."""
        await self._aio(self._connect)
        try:
            state = await self._select()
            task_status.started()
            await self._finish_moves(state)
            while True:
                if self.stopped():
                    await trio.sleep_forever()  # until the account's cancel ends it
                taken = await self._take_new(state)
                if taken.last_uid == state.last_uid:
                    await self._wait_for_mail()
                # Else looked at again at once: mail that came while these were committed was
                # announced at the end of a command whose untagged answers aioimaplib drops (a
                # FETCH's, a STORE's) or does not hand on, and an IDLE does not announce it again.
                state = taken
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                await self._aio(self._logout)

    # -- one step each ---------------------------------------------------------------------

    async def _select(self) -> FolderState:
        """The folder selected; the state, started over if UIDVALIDITY changed (RFC 3501
        2.3.1.1: the UIDs of before name nothing now; the Message-ID keys keep it from
        filing anything twice)."""
        response = await self._command("select", mailbox(self.folder))
        found = next(filter(None, map(_UIDVALIDITY.search, response.lines)), None)
        if found is None:
            raise ImapError(f"no UIDVALIDITY for {self.folder}")
        uidvalidity = int(found[1])
        kept = await self.ports.state.get(self.key)
        state = None if kept is None else _decoder.decode(kept)
        if state is None or state.uidvalidity != uidvalidity:
            if state is not None:
                log.warning("%s: UIDVALIDITY changed; reading the folder anew", self.key)
            state = FolderState(uidvalidity)
        return state

    async def _take_new(self, state: FolderState) -> FolderState:
        """Commit each message after the last UID, then move it out of the way."""
        response = await self._command("uid", "fetch", f"{state.last_uid + 1}:*", "(RFC822.SIZE)")
        sizes = sorted(_sizes(response.lines).items())
        for uid, size in sizes:
            if uid <= state.last_uid:  # "N:*" names the last message even below N
                continue
            if self.stopped():
                break
            state = msgspec.structs.replace(state, last_uid=uid)
            if size > self.limit():
                await self._commit_oversize(uid, size, state)
            else:
                await self._commit(uid, state)
                await self._processed(str(uid))
        return state

    async def _commit(self, uid: int, state: FolderState) -> None:
        response = await self._command("uid", "fetch", str(uid), "(BODY.PEEK[])")
        raw = _literal(response.lines)
        if raw is None:  # expunged meanwhile by someone else: nothing to file
            await self.ports.state.put({self.key: _encoder.encode(state)})
            return
        await self._receive(inbound.received(raw, self.account, self._metadata(uid)), state)

    async def _commit_oversize(self, uid: int, size: int, state: FolderState) -> None:
        """Over the limit: its header committed (flagged oversize by the parser), the message
        left where it is, flagged for the mailbox's owner."""
        # Flagged first: a crash before the commit leaves it flagged and not moved (the next
        # start commits its header), never moved unflagged as if it had been read.
        await self._command("uid", "store", str(uid), "+FLAGS", OVERSIZE_FLAGS)
        response = await self._command("uid", "fetch", str(uid), "(BODY.PEEK[HEADER])")
        header = _literal(response.lines) or b""
        metadata = self._metadata(uid) | {"oversize": str(size)}
        await self._receive(inbound.received(header, self.account, metadata), state)
        self.ports.bad_input("email", "oversize")

    async def _receive(self, received: Received, state: FolderState) -> None:
        """Committed with the folder's state; a From no one can read counted once."""
        receipt = await self.ports.intake.receive(received, {self.key: _encoder.encode(state)})
        if received.sender is None and not receipt.redelivery:
            self.ports.bad_input("email", "malformed_sender")

    async def _finish_moves(self, state: FolderState) -> None:
        """Move what was committed before a crash kept it from being moved."""
        if state.last_uid == 0 or self.settings.processed_folder is None:
            return
        criteria = f"UID 1:{state.last_uid} UNKEYWORD $TooBig"
        if not self._has("MOVE"):
            # Copied and flagged \Deleted, it waits to be expunged where there is no UIDPLUS:
            # copied once is enough.
            criteria += " UNDELETED"
        response = await self._command("uid_search", criteria)
        uids = [w.decode() for line in response.lines[:1] for w in line.split() if w.isdigit()]
        if uids:
            await self._processed(",".join(uids))

    async def _processed(self, uids: str) -> None:
        """Committed: moved to processed_folder, or flagged \\Seen."""
        target = self.settings.processed_folder
        if target is None:
            await self._command("uid", "store", uids, "+FLAGS", "(\\Seen)")
        elif self._has("MOVE"):
            await self._command("uid", "move", uids, mailbox(target))  # RFC 6851
        else:
            # What MOVE does (RFC 6851 3.3), by the commands every server has. Only UID EXPUNGE
            # (RFC 4315 2.1, UIDPLUS) removes just these: a plain EXPUNGE would also remove what
            # other clients flagged \Deleted. Without it they stay flagged, for the mailbox's
            # owner or the server to expunge.
            await self._command("uid", "copy", uids, mailbox(target))
            await self._command("uid", "store", uids, "+FLAGS", "(\\Deleted)")
            if self._has("UIDPLUS"):
                await self._command("uid", "expunge", uids)

    def _has(self, capability: str) -> bool:
        """Whether the server offers `capability` once logged in."""
        return self.client is not None and self.client.has_capability(capability)

    async def _wait_for_mail(self) -> None:
        """Until the server says something changed (IDLE), or for poll_interval."""
        client = self.client
        assert client is not None
        if not (self.settings.idle and client.has_capability("IDLE")):
            await trio.sleep(self.settings.poll_interval)
            return
        await self._aio(self._idle)
        if self.lost is not None:
            raise ImapError(self.lost)

    # -- asyncio side ----------------------------------------------------------------------

    async def _connect(self) -> None:
        settings = self.settings
        context = None
        if settings.security != "none":
            context = ssl.create_default_context(cafile=self.ca_file)
        # IMAP4 with a context is IMAP4_SSL, which would not pass conn_lost_cb on.
        client = aioimaplib.IMAP4(
            settings.host,
            settings.port,
            timeout=COMMAND_TIMEOUT,
            conn_lost_cb=self._lost,
            ssl_context=context if settings.security == "tls" else None,
        )
        self.client = client
        await client.wait_hello_from_server()
        if settings.security == "starttls":
            assert context is not None
            await _starttls(client, context, settings.host)
        response = await client.login(settings.username, self.password)
        if response.result != "OK":
            raise ImapError(f"login refused: {_said(response.lines)}")
        await _logged_in_capabilities(client, response)

    async def _idle(self) -> None:
        """IDLE (RFC 2177) until a message comes, the connection is lost, or idle_renew."""
        client = self.client
        assert client is not None
        renew = self.settings.idle_renew
        idle = await client.idle_start(timeout=renew + COMMAND_TIMEOUT)
        try:
            while client.has_pending_idle():
                try:
                    pushed = await client.wait_server_push(timeout=renew)
                except TimeoutError:
                    break  # renewed, as the RFC asks well before 29 minutes
                if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH or any(
                    b"EXISTS" in line for line in pushed if isinstance(line, bytes)
                ):
                    break
        finally:
            if client.has_pending_idle():
                client.idle_done()
            await asyncio.wait_for(idle, COMMAND_TIMEOUT)

    def _lost(self, error: Exception | None) -> None:
        """The connection is gone: what waits for the server's word (an IDLE, a command)
        stops waiting, as aioimaplib itself would let it wait until its timeout."""
        self.lost = f"connection lost: {error or 'closed by the server'}"
        if self.client is None:
            return
        protocol = self.client.protocol
        protocol.idle_queue.put_nowait(aioimaplib.STOP_WAIT_SERVER_PUSH)
        waiting = [protocol.pending_sync_command, *protocol.pending_async_commands.values()]
        for command in filter(None, waiting):
            command.close(b"connection lost", "NO")

    async def _logout(self) -> None:
        if self.client is not None and self.client.get_state() in ("AUTH", "SELECTED"):
            await self.client.logout()

    async def _command(self, name: str, *args: str) -> aioimaplib.Response:
        """One command; ImapError unless the server answers OK."""
        client = self.client
        assert client is not None
        if self.lost is not None:
            raise ImapError(self.lost)
        response: aioimaplib.Response = await self._aio(getattr(client, name), *args)
        if response.result != "OK":
            raise ImapError(f"{name} {args[0] if args else ''}: {_said(response.lines)}")
        return response

    @staticmethod
    async def _aio(function: Callable[..., object], *args: object) -> object:
        """An aioimaplib call, in the daemon's asyncio loop; a lost connection as ImapError."""
        try:
            return await trio_asyncio.aio_as_trio(function)(*args)
        except (TimeoutError, OSError, aioimaplib.Abort, aioimaplib.Error) as error:
            raise ImapError(f"{type(error).__name__}: {error}") from error

    def _metadata(self, uid: int) -> dict[str, str]:
        return {"transport": "imap", "folder": self.folder, "uid": str(uid)}


async def _starttls(client: aioimaplib.IMAP4, context: ssl.SSLContext, host: str) -> None:
    """RFC 3501 6.2.1, which aioimaplib lacks: STARTTLS, the transport wrapped in TLS, and the
    capabilities asked again (RFC 2595 3.1: those said before the handshake are void)."""
    protocol = client.protocol
    command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    response = await protocol.execute(command)
    if response.result != "OK":
        raise ImapError(f"STARTTLS refused: {_said(response.lines)}")
    loop = asyncio.get_running_loop()
    protocol.transport = await loop.start_tls(
        protocol.transport, protocol, context, server_hostname=host
    )
    await protocol.capability()


async def _logged_in_capabilities(client: aioimaplib.IMAP4, login: aioimaplib.Response) -> None:
    """The capabilities as they stand after LOGIN: servers list more once a user is logged in
    (MOVE, UIDPLUS), in the LOGIN answer's CAPABILITY code (RFC 3501 7.1) or only when asked
    again; aioimaplib asks before the login alone."""
    lines = [line for line in login.lines if isinstance(line, bytes | bytearray)]
    said = next(filter(None, map(_CAPABILITY_CODE.search, lines)), None)
    if said is None:
        await asyncio.wait_for(client.protocol.capability(), COMMAND_TIMEOUT)
    else:
        # The whole list, which replaces the one before (aioimaplib adds it to that one).
        client.protocol.capabilities = set(said[1].decode(errors="replace").split())


def mailbox(name: str) -> str:
    """A folder's name as IMAP writes it: modified UTF-7 (RFC 3501 5.1.3: «Обращения» is
    "&BB4EMQRABDAESQQ1BD0EOARP-"), quoted (a name may hold spaces)."""
    out: list[str] = []
    run: list[str] = []

    def encoded() -> None:
        if run:
            data = base64.b64encode("".join(run).encode("utf-16-be")).decode()
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if " " <= ch <= "~":
            encoded()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    encoded()
    written = "".join(out)
    return '"' + written.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sizes(lines: list[bytes | bytearray]) -> dict[int, int]:
    """UID -> RFC822.SIZE from a UID FETCH's answer."""
    sizes: dict[int, int] = {}
    for line in lines:
        if not isinstance(line, bytes | bytearray) or b"FETCH" not in line:
            continue
        uid = size = None
        for found in _FETCHED.finditer(line):
            uid = int(found[1]) if found[1] else uid
            size = int(found[2]) if found[2] else size
        if uid is not None and size is not None:
            sizes[uid] = size
    return sizes


def _literal(lines: list[bytes | bytearray]) -> bytes | None:
    """The message a FETCH of one body returned (aioimaplib gives the literal as a bytearray)."""
    for line in lines:
        if isinstance(line, bytearray):
            return bytes(line)
    return None


def _said(lines: list[bytes]) -> str:
    return " ".join(line.decode(errors="replace") for line in lines[-1:])[:200]
