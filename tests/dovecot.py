"""A private Dovecot (IMAP) for the email channel's tests, and a handle on its mailboxes."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.certificates import issue_server_certificate
from tests.integration.daemon import free_port

MISSING = "dovecot not found: install the Debian package dovecot-imapd (make test does)"
# The mailboxes the tests may log in to. Passwords with spaces, as people choose them,
# so that a client's quoting is exercised; no colon, the passwd-file's field separator.
USERS = {
    "support": "support secret",
    "citizen": "correct horse battery staple",
    "other": "other-secret",
}
# Dovecot is up in well under a second; a loaded CI box gets slack.
START_DEADLINE = 30.0
STOP_DEADLINE = 10.0
# One IMAP command of the handle's, answered at once by a running server.
IMAP_DEADLINE = 10.0
# Dovecot refuses mail access as root ("Mail access not allowed for root"): under root the
# mailboxes belong to the user the Debian package creates for Dovecot's own processes.
ROOT_MAIL_USER = "dovecot"
APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
# RFC 3501 7.2.2: a LIST reply is (flags) delimiter name, the name quoted or an atom.
LIST_REPLY = re.compile(rb'\((?P<flags>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)')


class DovecotError(Exception):
    """Dovecot refused a command of the handle's (no such folder, no such UID)."""


def find_dovecot() -> str:
    """The dovecot program; Debian installs it in /usr/sbin, which a user's PATH may lack."""
    path = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/local/sbin:/usr/sbin")
    if path is None:
        raise RuntimeError(MISSING)
    return path


def quoted(name: str) -> str:
    """A mailbox name as an IMAP quoted string (RFC 3501 4.3); imaplib sends arguments as given."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def checked(reply: tuple[str, list[object]], what: str) -> list[object]:
    """The data of an OK reply, or DovecotError with what the server said."""
    status, data = reply
    if status != "OK":
        raise DovecotError(f"{what}: {status} {data!r}")
    return data


def service_settings() -> tuple[pwd.struct_passwd, str]:
    """Who owns the mailboxes, and the settings that let Dovecot run as the current user."""
    if os.geteuid() == 0:
        try:
            return pwd.getpwnam(ROOT_MAIL_USER), ""
        except KeyError:
            raise RuntimeError(MISSING) from None
    # Not root: every process runs as this user, who cannot chroot (Dovecot's "rootless" setup).
    me = pwd.getpwuid(os.geteuid())
    return me, (
        f"default_internal_user = {me.pw_name}\n"
        f"default_internal_group = {grp.getgrgid(me.pw_gid).gr_name}\n"
        f"default_login_user = {me.pw_name}\n"
        "service anvil {\n  chroot =\n}\n"
        "service imap-login {\n  chroot =\n}\n"
    )


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on the port (a bind as Dovecot's, with SO_REUSEADDR, works)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class Dovecot:
    """Dovecot in the foreground with its own config, mailboxes and ports under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port()
        self.users = dict(USERS)
        certificate = issue_server_certificate(root)
        self.cafile = certificate.cafile
        self.log_path = root / "dovecot.log"
        self.output = root / "dovecot.out"
        self.config = root / "dovecot.conf"
        self.process: subprocess.Popen[bytes] | None = None
        owner, extra_settings = service_settings()
        passwd = root / "users"
        passwd.write_text(
            "".join(
                f"{user}:{{PLAIN}}{password}:{owner.pw_uid}:{owner.pw_gid}::{self.home(user)}::\n"
                for user, password in self.users.items()
            )
        )
        for user in self.users:
            self.home(user).mkdir(parents=True)
        (root / "state").mkdir()
        # Dovecot's own processes read the passwd-file and write the mailboxes as `owner`.
        for path in [root, *root.rglob("*")]:
            os.chown(path, owner.pw_uid, owner.pw_gid)
        # first_valid_uid/gid: the Debian user `dovecot` has a system uid, below the default 500.
        # ssl = yes offers STARTTLS on the plain port; from 127.0.0.1 Dovecot also allows a
        # plaintext LOGIN there (a loopback connection counts as secured), as a real one does.
        self.config.write_text(
            f"base_dir = {root / 'run'}\n"
            f"state_dir = {root / 'state'}\n"
            "instance_name = omnirouter-test\n"
            "protocols = imap\n"
            f"listen = {self.host}\n"
            f"log_path = {self.log_path}\n"
            "auth_verbose = yes\n"
            "auth_mechanisms = plain login\n"
            # A refused login is answered at once, not after the default 2 s.
            "auth_failure_delay = 0\n"
            "ssl = yes\n"
            f"ssl_cert = <{certificate.certfile}\n"
            f"ssl_key = <{certificate.keyfile}\n"
            f"first_valid_uid = {owner.pw_uid}\n"
            f"first_valid_gid = {owner.pw_gid}\n"
            "mail_location = maildir:~/Maildir\n"
            "mail_fsync = never\n"
            "passdb {\n"
            "  driver = passwd-file\n"
            f"  args = scheme=PLAIN username_format=%u {passwd}\n"
            "}\n"
            "userdb {\n"
            "  driver = passwd-file\n"
            f"  args = username_format=%u {passwd}\n"
            "}\n"
            # No auth penalty (growing delays for an address after a failed login): a test
            # of a wrong password must not slow the logins of the tests after it.
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
            "service imap-login {\n"
            f"  inet_listener imap {{\n    port = {self.port}\n  }}\n"
            f"  inet_listener imaps {{\n    port = {self.tls_port}\n    ssl = yes\n  }}\n"
            "}\n" + extra_settings
        )

    def home(self, user: str) -> Path:
        """A user's home directory; the mailboxes are its Maildir."""
        return self.root / "mail" / user

    @property
    def running(self) -> bool:
        """Whether the server was started, not stopped, and has not died."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start Dovecot and wait until it greets an IMAP client."""
        program = find_dovecot()
        with self.output.open("ab") as output:
            # Its own process group, so that stop() can end every process it forked.
            self.process = subprocess.Popen(
                [program, "-F", "-c", str(self.config)],
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_DEADLINE
        while not self._greets():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not start:\n{self.log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop Dovecot and every process it forked, as systemd stops a unit's control group.

        The master says BYE to IMAP clients (shutdown_clients defaults to yes) and exits, but
        an imap-login process proxying a TLS client lingers for seconds holding the listening
        ports; it is killed, so that the server is down at once and start() can bind again.
        """
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None
        deadline = time.monotonic() + STOP_DEADLINE
        while not all(port_free(self.host, port) for port in (self.port, self.tls_port)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot's ports are still taken:\n{self.log_tail()}")
            time.sleep(0.02)

    def restart(self) -> None:
        """Stop and start again on the same ports, with the same mail."""
        self.stop()
        self.start()

    def reset(self) -> None:
        """Empty every user's mailboxes: the next login finds a new INBOX and nothing else."""
        for user in self.users:
            shutil.rmtree(self.home(user) / "Maildir", ignore_errors=True)

    def log_tail(self, size: int = 4000) -> str:
        """The end of Dovecot's log and of what it printed."""
        text = "".join(
            path.read_text(errors="replace")
            for path in (self.output, self.log_path)
            if path.exists()
        )
        return text[-size:]

    def append(self, user: str, folder: str, raw: bytes, flags: Iterable[str] = ()) -> int:
        """APPEND a message to `folder`; the UID the server gave it (RFC 4315 APPENDUID)."""
        with self.session(user) as client:
            flag_list = f"({' '.join(flags)})" if flags else None
            data = checked(client.append(quoted(folder), flag_list, None, raw), "APPEND")
        found = APPENDUID.search(data[0] if isinstance(data[0], bytes) else b"")
        if found is None:
            raise DovecotError(f"APPEND answered without APPENDUID: {data!r}")
        return int(found.group(2))

    def uids(self, user: str, folder: str = "INBOX") -> list[int]:
        """The UIDs in `folder`, ascending."""
        with self.examined(user, folder) as client:
            data = checked(client.uid("SEARCH", "ALL"), "UID SEARCH")
        assert isinstance(data[0], bytes)
        return sorted(int(uid) for uid in data[0].split())

    def flags(self, user: str, folder: str, uid: int) -> frozenset[str]:
        """A message's flags, without the session-bound \\Recent."""
        with self.examined(user, folder) as client:
            data = checked(client.uid("FETCH", str(uid), "(FLAGS)"), "UID FETCH FLAGS")
        if data == [None]:
            raise DovecotError(f"no UID {uid} in {folder} of {user}")
        assert isinstance(data[0], bytes)
        return frozenset(flag.decode() for flag in imaplib.ParseFlags(data[0])) - {"\\Recent"}

    def message(self, user: str, folder: str, uid: int) -> bytes:
        """A message's bytes as stored, without setting \\Seen."""
        with self.examined(user, folder) as client:
            data = checked(client.uid("FETCH", str(uid), "(BODY.PEEK[])"), "UID FETCH BODY")
        if not isinstance(data[0], tuple):
            raise DovecotError(f"no UID {uid} in {folder} of {user}")
        body: bytes = data[0][1]
        return body

    def folders(self, user: str) -> list[str]:
        """The names of a user's folders, sorted."""
        with self.session(user) as client:
            data = checked(client.list(), "LIST")
        names = []
        for line in data:
            assert isinstance(line, bytes)
            found = LIST_REPLY.fullmatch(line)
            if found is None:
                raise DovecotError(f"unreadable LIST reply: {line!r}")
            name = found.group("name")
            if name.startswith(b'"'):
                name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
            names.append(name.decode())
        return sorted(names)

    def create_folder(self, user: str, folder: str) -> None:
        """CREATE a folder."""
        with self.session(user) as client:
            checked(client.create(quoted(folder)), "CREATE")

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """The folder's UIDVALIDITY."""
        with self.session(user) as client:
            data = checked(client.status(quoted(folder), "(UIDVALIDITY)"), "STATUS")
        found = UIDVALIDITY.search(data[0] if isinstance(data[0], bytes) else b"")
        if found is None:
            raise DovecotError(f"STATUS answered without UIDVALIDITY: {data!r}")
        return int(found.group(1))

    @contextmanager
    def session(self, user: str) -> Iterator[imaplib.IMAP4]:
        """A logged-in IMAP connection on the plain port (loopback counts as secured)."""
        client = imaplib.IMAP4(self.host, self.port, timeout=IMAP_DEADLINE)
        try:
            checked(client.login(user, self.users[user]), "LOGIN")
            yield client
        finally:
            with suppress(imaplib.IMAP4.error, OSError):
                client.logout()

    @contextmanager
    def examined(self, user: str, folder: str) -> Iterator[imaplib.IMAP4]:
        """A session with `folder` selected read-only (EXAMINE), so nothing is marked."""
        with self.session(user) as client:
            checked(client.select(quoted(folder), readonly=True), f"EXAMINE {folder}")
            yield client

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    """One Dovecot for the whole session, under /tmp so that its own user can reach the mail."""
    root = Path(tempfile.mkdtemp(prefix="omnirouter-dovecot-"))
    try:
        server = Dovecot(root)
        server.start()
    except RuntimeError as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server: Dovecot, request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    """The running server with empty mailboxes; its log of the test is shown if the test fails."""
    if not dovecot_server.running:
        # Stopped by the test before, or died: stop() also ends what a dead master left behind.
        dovecot_server.restart()
    dovecot_server.reset()
    offset = dovecot_server.log_path.stat().st_size
    yield dovecot_server
    with dovecot_server.log_path.open(errors="replace") as log:
        log.seek(offset)
        request.node.add_report_section("teardown", "dovecot log", log.read())
