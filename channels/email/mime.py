"""A MIME message read into what a citizen wrote: `read(raw) -> Mail`, pure and total.

`read` never raises on what a peer sent (bad MIME, broken encodings, a truncated message,
binary garbage): it returns what it could read, with `Mail.defects` saying what it could not,
in words for operators that quote nothing of the message. The raw bytes stay the record (the
journal keeps them); a Mail is what is read from them and can be read again.

The parser is the standard library's (`email` with `policy.default`), chosen over the Rust
fast-mail-parser although that is about 20 times faster: on a 13.5 MiB message with a 10 MiB
scan, 0.2 s of CPU and 38 MiB of peak RSS growth here against 0.01 s and 23 MiB (bench/mime.py).
fast-mail-parser hands text parts back already decoded in their declared charset, so a
windows-1251 part labelled koi8-r comes out as mojibake with no bytes left to detect the real
charset from, and it reports neither defects nor the nesting of attached messages. The
standard parser keeps each part's bytes, reads RFC 2231 parameters and lists defects. A scan
costs a fifth of a second of CPU: call `read` from a worker thread (ARCHITECTURE.md 4).

What a Mail holds:
- `text`: the citizen's new words, quoted history and signature stripped (`quotes.strip`);
  `full_text` is every body part's text before stripping, for operators. `quoted_only`: the
  body is a reply's quote and nothing of the sender's (`text` is then all of it).
- `html`: the HTML body parts, sanitised (`html.sanitised`), or None.
- `attachments`: every part that is not body text, in order. An attached message
  (message/rfc822) is one attachment (the message's bytes, named after its subject) and its
  own files follow it with `within` set to its index; so do the files of a TNEF winmail.dat.
  `inline` marks an image the HTML shows by its Content-ID.
- `headers(name)`: every field of that name, decoded, top to bottom (loop protection,
  Authentication-Results, bounces read Auto-Submitted, Precedence, List-*, X-Loop...).
Addresses are lower-case addr-specs; Message-IDs keep their angle brackets ("<id@host>");
`date` is RFC 3339 in the sender's own offset.
"""

from __future__ import annotations

import binascii
import email
import email.feedparser
import email.policy
import mimetypes
import re
import unicodedata
from email.message import Message

import msgspec
import tnefparse

from . import charsets, headers, html, quotes
from .headers import Address

# Limits on the work one message can cause, Dovecot's defaults (lib-mail message-parser.h):
# MIME parts nested at most 100 deep, at most 10000 parts in all.
MAX_DEPTH = 100
MAX_PARTS = 10_000
# Attached messages inside attached messages are read this deep (a forward of a forward of a
# complaint); deeper ones stay whole, as the attachment they are.
MAX_ATTACHED_DEPTH = 5
# A filename is cut to this many UTF-8 bytes, keeping its extension: the limit of ext4, NTFS
# and most other file systems an operator may save it to.
MAX_FILENAME_BYTES = 255

_FEED = 64 * 1024
# An attached message is kept with its fields as sent (policy.default would refold them), in
# RFC 5322's CRLF lines.
_AS_SENT = email.policy.default.clone(refold_source="none", linesep="\r\n")
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=\r\n]")


class Attachment(msgspec.Struct, frozen=True):
    """A part that is not body text: a file, an inline image, an attached message."""

    filename: str
    content_type: str
    content: bytes
    inline: bool = False
    content_id: str | None = None
    # The index in Mail.attachments of the attached message or winmail.dat this came out of.
    within: int | None = None


class Mail(msgspec.Struct, frozen=True):
    """A MIME message as read: its fields, its text, its HTML, its files, what went wrong."""

    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = []
    subject: str | None = None
    from_address: str | None = None
    from_display: str | None = None
    to: list[Address] = []
    cc: list[Address] = []
    reply_to: list[Address] = []
    date: str | None = None
    text: str = ""
    full_text: str = ""
    quoted: str = ""
    signature: str = ""
    quoted_only: bool = False
    html: str | None = None
    attachments: list[Attachment] = []
    fields: list[tuple[str, str]] = []
    defects: list[str] = []

    def headers(self, name: str) -> list[str]:
        """Every field called `name` (any case), decoded, in order from the top."""
        wanted = name.lower()
        return [value for field, value in self.fields if field.lower() == wanted]


def read(raw: bytes, *, max_size: int | None = None) -> Mail:
    """The message in `raw`; over `max_size` bytes only its header is read."""
    try:
        return _read(raw, max_size)
    except Exception as exc:  # the last net: each field and part has its own below
        return Mail(defects=[f"message unreadable ({type(exc).__name__})"])


def _read(raw: bytes, max_size: int | None) -> Mail:
    defects: list[str] = []
    header_only = max_size is not None and len(raw) > max_size
    if header_only:
        defects.append(f"message of {len(raw)} bytes is over the limit of {max_size}: header only")
    try:
        message = _parse(_header_of(raw) if header_only else raw)
    except RecursionError:
        defects.append(f"MIME parts nested too deep to read (over {MAX_DEPTH})")
        header_only = True
        message = _parse(_header_of(raw))
    fields = _fields(message, defects)
    mail = _header_fields(message, defects)
    reader = _Reader(defects)
    if not header_only:
        reader.walk(message, "1", depth=0, attached_depth=0, within=None, body=True)
    full_text = "\n\n".join(reader.texts())
    stripped = quotes.strip(full_text)
    return msgspec.structs.replace(
        mail,
        text=stripped.new,
        full_text=full_text,
        quoted=stripped.history,
        signature=stripped.signature,
        quoted_only=stripped.quoted_only,
        html="\n".join(reader.htmls) if reader.htmls else None,
        attachments=reader.finished_attachments(),
        fields=fields,
        defects=defects,
    )


def _parse(raw: bytes) -> Message:
    """The standard parser's message tree, the bytes fed in pieces: given them whole, it holds
    the message as one str beside its lines (a 13.5 MiB scan: 30 MiB more at the peak)."""
    parser = email.feedparser.BytesFeedParser(policy=email.policy.default)
    for start in range(0, len(raw), _FEED):
        parser.feed(raw[start : start + _FEED])
    return parser.close()


def _header_of(raw: bytes) -> bytes:
    """The header section of a message (up to its first empty line), or all of it."""
    match = re.search(rb"\r?\n\r?\n", raw)
    return raw if match is None else raw[: match.end()]


def _fields(message: Message, defects: list[str]) -> list[tuple[str, str]]:
    """The top-level header fields, decoded, in order."""
    fields: list[tuple[str, str]] = []
    for name, value in message.raw_items():
        try:
            fields.append((name, headers.decoded(str(value))))
        except Exception as exc:  # one unreadable field must not cost the others
            defects.append(f"header {_token(name)} unreadable ({type(exc).__name__})")
    return fields


def _header_fields(message: Message, defects: list[str]) -> Mail:
    """A Mail of the fields it names: sender, recipients, threading, subject and date. Address
    fields are split before their display names are decoded: an encoded-word may hold a comma
    («Иванов, Иван»)."""
    raw: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        raw.setdefault(name.lower(), []).append(str(value))

    def first(name: str) -> str:
        return raw.get(name, [""])[0]

    def mailboxes(name: str) -> list[Address]:
        return [mailbox for value in raw.get(name, []) for mailbox in headers.mailboxes(value)]

    senders = headers.mailboxes(first("from"))
    if not senders:
        defects.append("no sender address in From")
    message_ids = headers.message_ids(first("message-id"))
    replied = headers.message_ids(first("in-reply-to"))
    date = headers.date(first("date")) if "date" in raw else None
    if "date" in raw and date is None:
        defects.append("unreadable Date")
    return Mail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=replied[0] if replied else None,
        references=headers.message_ids(first("references")),
        subject=headers.decoded(first("subject")) if "subject" in raw else None,
        from_address=senders[0].address if senders else None,
        from_display=senders[0].display_name if senders else None,
        to=mailboxes("to"),
        cc=mailboxes("cc"),
        reply_to=mailboxes("reply-to"),
        date=date,
    )


class _Body(msgspec.Struct, frozen=True):
    """One body part's text and whether it came from HTML."""

    text: str
    from_html: bool


class _Reader:
    """Walks a message's parts once, collecting body text, HTML and attachments."""

    def __init__(self, defects: list[str]) -> None:
        self.defects = defects
        self.bodies: list[_Body] = []
        self.htmls: list[str] = []
        self.tnef_bodies: list[str] = []
        self.attachments: list[Attachment] = []
        self.parts = 0

    def walk(
        self,
        part: Message,
        path: str,
        *,
        depth: int,
        attached_depth: int,
        within: int | None,
        body: bool,
    ) -> None:
        """Read `part` and what it contains; `body` says its text parts are the message's."""
        self.parts += 1
        if self.parts > MAX_PARTS:
            if self.parts == MAX_PARTS + 1:
                self.defects.append(f"over {MAX_PARTS} MIME parts: the rest not read")
            return
        if depth > MAX_DEPTH:
            self.defects.append(f"part {path}: nested over {MAX_DEPTH} deep, not read")
            return
        try:
            content_type = part.get_content_type()
            if content_type == "message/rfc822" and attached_depth < MAX_ATTACHED_DEPTH:
                self._attached_message(part, path, depth, attached_depth, within)
            elif content_type.startswith("multipart/") and part.is_multipart():
                self._multipart(part, path, depth, attached_depth, within, body)
            elif content_type.startswith("multipart/"):
                # No boundary, or none found: the parser kept the body whole, and it is read
                # as the text it most likely is (the defect says why).
                self._leaf(part, path, "text/plain", within, body)
            else:
                self._leaf(part, path, content_type, within, body)
        except Exception as exc:  # one unreadable part must not cost the others
            self.defects.append(f"part {path} unreadable ({type(exc).__name__})")
        # After reading: decoding the content (bad base64) adds to the parser's defects.
        for defect in part.defects:
            self.defects.append(f"part {path}: {_defect_words(type(defect).__name__)}")

    def _multipart(
        self,
        part: Message,
        path: str,
        depth: int,
        attached_depth: int,
        within: int | None,
        body: bool,
    ) -> None:
        first_body = len(self.bodies)
        payload = part.get_payload()
        for number, sub in enumerate(payload if isinstance(payload, list) else [], 1):
            self.walk(
                sub,
                f"{path}.{number}",
                depth=depth + 1,
                attached_depth=attached_depth,
                within=within,
                body=body,
            )
        if part.get_content_subtype() == "alternative":
            # RFC 2046 5.1.4: the same content in several forms. The plain text is the
            # sender's own; the HTML's text only stands in when there is no plain text.
            added = self.bodies[first_body:]
            if any(not b.from_html and b.text.strip() for b in added):
                self.bodies[first_body:] = [b for b in added if not b.from_html]

    def _attached_message(
        self, part: Message, path: str, depth: int, attached_depth: int, within: int | None
    ) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, Message):
            self._leaf(part, path, "message/rfc822", within, body=False)
            return
        subject = next(
            (headers.decoded(v) for k, v in inner.raw_items() if k.lower() == "subject"), ""
        )
        name = _filename(part) or f"{subject or 'message'}.eml"
        index = self._attach(
            part, safe_filename(name, "message/rfc822"), "message/rfc822", _as_sent(inner), within
        )
        self.walk(
            inner,
            f"{path}.1",
            depth=depth + 1,
            attached_depth=attached_depth + 1,
            within=index,
            body=False,
        )

    def _leaf(
        self, part: Message, path: str, content_type: str, within: int | None, body: bool
    ) -> None:
        content = _content(part)
        name = _filename(part)
        if (
            content_type in _BODY_TYPES
            and part.get_content_disposition() != "attachment"
            and name is None
        ):
            # An attached message's own text is in its attachment, not a file of its own.
            if body:
                self._body_text(part, path, content_type, content)
            return
        index = self._attach(part, safe_filename(name, content_type), content_type, content, within)
        if content_type in _TNEF_TYPES or (name or "").lower() == "winmail.dat":
            self._tnef(content, path, index)

    def _body_text(self, part: Message, path: str, content_type: str, content: bytes) -> None:
        decoded = charsets.decode(content, part.get_content_charset())
        if decoded.defect:
            self.defects.append(f"part {path}: {decoded.defect}")
        text = decoded.text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        if content_type == "text/html":
            self.htmls.append(html.sanitised(text).strip())
            self.bodies.append(_Body(html.to_text(text), from_html=True))
        elif _param(part, "format") == "flowed":
            delsp = _param(part, "delsp") == "yes"
            self.bodies.append(_Body(unflowed(text, delsp=delsp), from_html=False))
        else:
            self.bodies.append(_Body(text, from_html=False))

    def _attach(
        self,
        part: Message,
        filename: str,
        content_type: str,
        content: bytes,
        within: int | None,
    ) -> int:
        content_id = part.get("content-id")
        cid = str(content_id).strip().strip("<>").strip() if content_id else None
        self.attachments.append(
            Attachment(filename, content_type, content, content_id=cid or None, within=within)
        )
        return len(self.attachments) - 1

    def _tnef(self, content: bytes, path: str, index: int) -> None:
        """The files (and the body, where the message has no other) of a winmail.dat."""
        try:
            tnef = tnefparse.TNEF(content, do_checksum=False)
        except Exception as exc:  # a broken winmail.dat is still listed as it came
            self.defects.append(f"part {path}: TNEF unreadable ({type(exc).__name__})")
            return
        for number, item in enumerate(tnef.attachments, 1):
            name = str(item.long_filename() or item.name or "")
            self.attachments.append(
                Attachment(
                    safe_filename(name or f"tnef-{number}", None),
                    mimetypes.guess_type(name)[0] or "application/octet-stream",
                    bytes(item.data),
                    within=index,
                )
            )
        for tnef_body, convert in ((tnef.body, str), (tnef.htmlbody, html.to_text)):
            if tnef_body:
                # tnefparse decodes a body in the message's Internet code page when it names
                # one; otherwise the bytes are in the sender's OEM code page, or not quite.
                if not isinstance(tnef_body, str):
                    tnef_body = charsets.decode(bytes(tnef_body), tnef.codepage).text
                self.tnef_bodies.append(convert(tnef_body))
                break

    def texts(self) -> list[str]:
        """The body parts' texts in order (a winmail.dat's body if there is no other)."""
        texts = [b.text for b in self.bodies if b.text.strip()]
        # Trailing spaces carry nothing once format=flowed is undone (and HTML tables pad).
        return [
            "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
            for text in texts or [t for t in self.tnef_bodies if t.strip()]
        ]

    def finished_attachments(self) -> list[Attachment]:
        """The attachments, an image the HTML shows by its Content-ID marked inline."""
        shown = {cid for h in self.htmls for cid in html.content_ids(h)}
        return [
            msgspec.structs.replace(a, inline=True)
            if a.content_id and a.content_id.lower() in shown
            else a
            for a in self.attachments
        ]


def _param(part: Message, name: str) -> str:
    """A Content-Type parameter in lower case, "" if absent."""
    value = part.get_param(name)
    return value.lower() if isinstance(value, str) else ""


def _content(part: Message) -> bytes:
    """A leaf part's content, its transfer encoding undone."""
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    encoded = part.get_payload()
    if encoding == "base64" and isinstance(encoded, str) and _plain_base64(encoded):
        # Straight from the parser's text: the standard decoder first copies it to bytes,
        # splits those into lines and joins them again (a 10 MiB scan: 37 instead of 75 MiB
        # at the peak, bench/mime.py). Anything it would repair or report takes its road.
        return binascii.a2b_base64(encoded)
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    # A message/* part that is not message/rfc822 (delivery-status, an attached message
    # beyond MAX_ATTACHED_DEPTH): its body as sent.
    inner = part.get_payload()
    if isinstance(inner, list):
        return b"".join(_as_sent(m) for m in inner if isinstance(m, Message))
    return str(inner or "").encode("utf-8", "surrogateescape")


def _plain_base64(encoded: str) -> bool:
    """Whether `encoded` is base64 the standard decoder takes as it is, with no defect: the
    alphabet in lines, padding only at the end, whole quanta (RFC 2045 6.8). Counted, not
    copied: a scan's text is megabytes."""
    tail = encoded[-8:].rstrip("\r\n")
    padding = len(tail) - len(tail.rstrip("="))
    quanta = len(encoded) - encoded.count("\r") - encoded.count("\n")
    return (
        padding <= 2
        and encoded.count("=") == padding
        and quanta % 4 == 0
        and not _NOT_BASE64.search(encoded)
    )


def _as_sent(message: Message) -> bytes:
    """A message's bytes as the parser read them."""
    return message.as_bytes(policy=_AS_SENT)


def _filename(part: Message) -> str | None:
    """A part's filename (RFC 2231 in its parameters, RFC 2047 as some clients send it)."""
    name = part.get_filename()
    return headers.decoded(name) if name and name.strip() else None


def safe_filename(name: str | None, content_type: str | None) -> str:
    """`name` safe as a file's name on any system: no directories, controls or reserved
    characters, at most MAX_FILENAME_BYTES; a name from the type when there is none."""
    cleaned = unicodedata.normalize("NFC", name or "")
    cleaned = re.split(r"[/\\]", cleaned)[-1]
    cleaned = _UNSAFE_IN_NAME.sub("_", cleaned).strip().lstrip(".").strip()
    if not cleaned:
        extension = mimetypes.guess_extension(content_type or "") or ".bin"
        cleaned = f"attachment{extension}"
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, extension = cleaned, ""
    suffix = f".{extension}" if extension else ""
    room = MAX_FILENAME_BYTES - len(suffix.encode())
    stem = stem.encode()[:room].decode("utf-8", errors="ignore")
    return stem + suffix


def unflowed(text: str, *, delsp: bool) -> str:
    """RFC 3676 format=flowed text as paragraphs: a line ending in a space goes on (4.1);
    the "-- " signature delimiter is never one (4.3); quoted lines join only at one depth."""
    out: list[str] = []
    carry: str | None = None
    carry_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):  # 4.4: space-stuffing
            content = content[1:]
        if carry is not None and depth == carry_depth:
            content = carry + content
        elif carry is not None:
            out.append(">" * carry_depth + (" " if carry_depth else "") + carry)
        carry = None
        if content.endswith(" ") and content != "-- ":
            carry, carry_depth = (content[:-1] if delsp else content), depth
            continue
        out.append(">" * depth + (" " if depth else "") + content)
    if carry is not None:
        out.append(">" * carry_depth + (" " if carry_depth else "") + carry)
    return "\n".join(out)


def _defect_words(name: str) -> str:
    """A stdlib defect class name as words: "CloseBoundaryNotFoundDefect" -> "close boundary
    not found"; the defect's own message may quote the message, its class never does."""
    words = re.findall(r"[A-Z][a-z0-9]*", name.removesuffix("Defect"))
    return " ".join(words).lower() or name


def _token(name: str) -> str:
    """A field name fit for a defect text (printable ASCII, short)."""
    return re.sub(r"[^\x21-\x7e]", "?", name)[:40]
