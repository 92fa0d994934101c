"""Attachment types told by content (magic bytes), and safe inspection of ZIP archives."""

from __future__ import annotations

import codecs
import itertools
import lzma
import os
import re
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import IO, Literal, NoReturn

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator

# git's buffer_is_binary() judges the first 8000 bytes; WHATWG MIME Sniffing (§7) reads 1445.
# Enough for every magic number below and a fair sample of text, and never the whole file.
HEAD_BYTES = 8000
# Members are read in chunks of this size, so a member never sits whole in memory.
_CHUNK = 64 * 1024
# A nested archive is spooled to a temporary file past this size (zipfile needs to seek in it).
_SPOOL_IN_MEMORY = 1024 * 1024
# [Content_Types].xml and ODF's `mimetype` are a few KB; a bigger one is read only this far.
_MANIFEST_BYTES = 1024 * 1024
# Apache POI's ZipSecureFile does not judge the ratio of entries under 100 KiB
# (GRACE_ENTRY_SIZE): a small member cannot hurt whatever its ratio, and small repetitive
# files (blank forms, padded XML) honestly compress better than 100:1.
_RATIO_GRACE_BYTES = 100 * 1024
# Perl's -T allows a third of "odd" characters; random bytes without a NUL have about 10%
# control codes, so we allow 5%: real letters have none but whitespace and a stray form feed.
_MAX_CONTROL_SHARE = 0.05
# Reasons quote member names an attacker chose: printable and short in logs and on screens.
_NAME_SHOWN = 120


# Why a file is refused, in the citizen's words: a key of the templates' [attachment_reasons],
# which say it in each language (the operator's reason names the detail, the member included).
ReasonCode = Literal["dangerous", "archive", "type_not_allowed", "encrypted"]


@dataclass(frozen=True, slots=True)
class TypeRefusal:
    """Why a file is refused: for the operator, and which of the citizen's reasons it is."""

    reason: str
    code: ReasonCode = "archive"


EXECUTABLE = TypeRefusal("executable file", "dangerous")
MACROS = TypeRefusal("macro-enabled Office document", "dangerous")
OLE2 = TypeRefusal("legacy Office document or installer, may carry macros", "dangerous")
SCRIPT = TypeRefusal("script or program", "dangerous")
MARKUP = TypeRefusal("web page or SVG, may carry scripts", "dangerous")
ENCRYPTED = TypeRefusal("encrypted archive: contents cannot be scanned", "encrypted")


@dataclass(frozen=True, slots=True)
class FileType:
    """One known type: its MIME type, the names and declared types that agree with it."""

    mime: str
    extensions: frozenset[str] = frozenset()
    # Declared types that agree with this type besides `mime` (older or vendor aliases).
    aliases: frozenset[str] = frozenset()
    # Set for types refused whatever the policy allows: they carry code.
    danger: TypeRefusal | None = None


def _type(
    mime: str, extensions: str = "", aliases: str = "", danger: TypeRefusal | None = None
) -> FileType:
    return FileType(
        mime, frozenset(extensions.split()), frozenset({mime, *aliases.split()}), danger
    )


_OOXML = "application/vnd.openxmlformats-officedocument."
TYPES: Mapping[str, FileType] = {
    "pdf": _type("application/pdf", ".pdf", "application/x-pdf"),
    "jpeg": _type("image/jpeg", ".jpg .jpeg .jpe .jfif", "image/jpg image/pjpeg"),
    "png": _type("image/png", ".png", "image/x-png"),
    "tiff": _type("image/tiff", ".tif .tiff", "image/tif image/x-tiff"),
    "heic": _type("image/heic", ".heic .heif", "image/heif image/heic-sequence"),
    "text": _type("text/plain", ".txt .text .log .csv", "text/csv"),
    # Voice notes, call recordings and screen recordings (Telegram's voice is OGG Opus, its
    # videos MP4; browsers record WebM).
    "ogg": _type("audio/ogg", ".ogg .oga .opus", "application/ogg audio/opus video/ogg"),
    "mp3": _type("audio/mpeg", ".mp3", "audio/mp3 audio/x-mpeg"),
    "mp4": _type(
        "video/mp4",
        ".mp4 .m4v .m4a .mov .3gp",
        "audio/mp4 audio/x-m4a audio/aac video/quicktime video/3gpp",
    ),
    "webm": _type("video/webm", ".webm .mkv", "audio/webm video/x-matroska"),
    "docx": _type(_OOXML + "wordprocessingml.document", ".docx .dotx"),
    "xlsx": _type(_OOXML + "spreadsheetml.sheet", ".xlsx .xltx"),
    "pptx": _type(_OOXML + "presentationml.presentation", ".pptx .ppsx .potx"),
    "odt": _type("application/vnd.oasis.opendocument.text", ".odt"),
    "ods": _type("application/vnd.oasis.opendocument.spreadsheet", ".ods"),
    "zip": _type("application/zip", ".zip", "application/x-zip-compressed application/x-zip"),
    "rar": _type("application/vnd.rar", ".rar", "application/x-rar-compressed"),
    "7z": _type("application/x-7z-compressed", ".7z"),
    "gzip": _type("application/gzip", ".gz .tgz", "application/x-gzip"),
    "pe": _type(
        "application/vnd.microsoft.portable-executable",
        ".exe .dll .scr .sys .cpl .com",
        "application/x-msdownload application/x-dosexec",
        EXECUTABLE,
    ),
    "elf": _type("application/x-executable", ".so .elf", "application/x-elf", EXECUTABLE),
    "macho": _type("application/x-mach-binary", ".dylib", "", EXECUTABLE),
    "ole2": _type(
        "application/x-ole-storage",
        ".doc .dot .xls .xlt .ppt .pps .msi .msg",
        "application/msword application/vnd.ms-excel application/vnd.ms-powerpoint"
        " application/x-msi",
        OLE2,
    ),
    "docm": _type("application/vnd.ms-word.document.macroenabled.12", ".docm .dotm", "", MACROS),
    "xlsm": _type(
        "application/vnd.ms-excel.sheet.macroenabled.12", ".xlsm .xltm .xlsb .xlam", "", MACROS
    ),
    "pptm": _type(
        "application/vnd.ms-powerpoint.presentation.macroenabled.12",
        ".pptm .potm .ppsm .ppam",
        "",
        MACROS,
    ),
    # Known by a shebang or by a name Windows, a browser or Android would run.
    "script": _type(
        "application/octet-stream",
        ".js .jse .vbs .vbe .wsf .wsh .ps1 .bat .cmd .sh .jar .hta .lnk .scr .com .exe .dll"
        " .msi .apk .pif .reg",
        "application/javascript text/javascript application/x-sh application/x-bat"
        " application/hta application/java-archive application/vnd.android.package-archive",
        SCRIPT,
    ),
    "html": _type(
        "text/html",
        ".html .htm .xhtml .shtml .mht .mhtml .svg .svgz",
        "application/xhtml+xml image/svg+xml",
        MARKUP,
    ),
    "unknown": _type("application/octet-stream"),
}
# Refused whatever the policy says: these carry code an operator's machine would run.
DANGEROUS = frozenset(name for name, kind in TYPES.items() if kind.danger)
# What [attachments] allowed may name; "unknown" is never allowed.
ALLOWABLE = frozenset(TYPES) - DANGEROUS - {"unknown"}
# Archives we cannot open here: if the policy allows them, type checks never saw inside.
OPAQUE_ARCHIVES = frozenset({"rar", "7z", "gzip"})
# Names that run whatever the content is: a PDF called .exe is still started as a program.
_BY_EXTENSION = {ext: name for name in ("script", "html") for ext in TYPES[name].extensions}
# Generic declared types that say nothing about the content: no mismatch can be claimed.
_UNINFORMATIVE = frozenset({"", "application/octet-stream", "binary/octet-stream"})

# Leading bytes by type, tried in order. Windows runs any file that starts "MZ" as a DOS
# program, so two letters suffice. PDF must start at offset 0 although Acrobat looks for the
# header anywhere in the first 1024 bytes: a prefix is how PDF polyglots are built, and
# scanners and office suites never write one.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"MZ", "pe"),
    (b"\x7fELF", "elf"),
    (b"\xfe\xed\xfa\xce", "macho"),
    (b"\xfe\xed\xfa\xcf", "macho"),
    (b"\xce\xfa\xed\xfe", "macho"),
    (b"\xcf\xfa\xed\xfe", "macho"),
    (b"\xca\xfe\xba\xbe", "macho"),  # universal binary, and a Java class: code either way
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"Rar!\x1a\x07", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b", "gzip"),
    (b"OggS", "ogg"),
    (b"ID3", "mp3"),  # an ID3v2 tag, then the frames
    (b"\xff\xfb", "mp3"),  # frame sync: MPEG-1 Layer III, with and without CRC
    (b"\xff\xfa", "mp3"),
    (b"\xff\xf3", "mp3"),  # MPEG-2 Layer III
    (b"\xff\xf2", "mp3"),
    (b"\x1aE\xdf\xa3", "webm"),  # EBML: WebM and Matroska
    (b"#!", "script"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "script"),  # MS-SHLLINK: a Windows shortcut
)
# HEIF (ISO/IEC 23008-12): an ISO-BMFF `ftyp` box whose major brand names a HEIF image.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"mif1", b"msf1"})
# The same box naming MP4 (ISO/IEC 14496-14), its audio-only M4A, 3GPP or QuickTime.
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash"}
    | {b"M4A ", b"M4V ", b"M4B ", b"MSNV", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"qt  "}
)
# WHATWG MIME Sniffing §7.1: a resource starting with one of these tags, followed by a space
# or ">", is HTML; browsers render it, scripts included. SVG runs scripts the same way.
_MARKUP = re.compile(
    rb"<(!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p"
    rb"|!--|svg)[ >]"
    rb"|<\?xml[^>]*>\s*(<!--.*?-->\s*)*<(svg|html|!doctype (svg|html))[ >]",
    re.IGNORECASE | re.DOTALL,
)
# Text in the encodings Russian writers use; single-byte ones decode almost anything, so
# the control-character share decides.
_TEXT_CODECS = ("utf-8-sig", "cp1251", "koi8_r")
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_NON_TEXT_CATEGORIES = frozenset({"Cc", "Cn", "Co", "Cs"})

# OOXML: the main part's content type names the family; "macroEnabled" marks VBA
# (ECMA-376 Part 2 §10.1.2.1 [Content_Types].xml; [MS-OFFMACRO2] for the macro types).
_OOXML_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("wordprocessingml.", "docx", "docm"),
    ("application/vnd.ms-word.", "docx", "docm"),
    ("spreadsheetml.", "xlsx", "xlsm"),
    ("application/vnd.ms-excel.", "xlsx", "xlsm"),
    ("presentationml.", "pptx", "pptm"),
    ("application/vnd.ms-powerpoint.", "pptx", "pptm"),
)
_CONTENT_TYPE = re.compile(r"""ContentType\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_MAIN_PART = (".main+xml", ".main")  # xlsb's main part is binary: no "+xml"
# VBA projects, and Excel 4.0 macro sheets that need no VBA at all.
_MACRO_MARKERS = ("macroenabled", "vbaproject", "macrosheet")
# ODF 1.2 Part 3 §3.3: the first member is `mimetype`, stored, holding the document's type.
_ODF = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
}
# APPNOTE.TXT §4.3.7: local file header is 30 bytes and the name.
_LOCAL_HEADER = 30
# End of central directory records (APPNOTE.TXT §4.3.14-16); its comment is up to 64 KiB.
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_LOCATOR_BYTES = 20
_TAIL_BYTES = _EOCD.size + 0xFFFF + _ZIP64_LOCATOR_BYTES + _ZIP64_EOCD.size
# A central entry is 46 bytes and its name, extra fields and comment; 1 KiB holds a 260-
# character Windows path in UTF-8 and the usual extra fields. Bounds zipfile's parse.
_CENTRAL_ENTRY_BYTES = 46 + 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_ENCRYPTED_FLAG = 0x1  # APPNOTE.TXT §4.4.4 general purpose bit 0
_UTF8_FLAG = 0x800  # bit 11: the name is UTF-8, else CP437
# What a damaged or hostile archive makes zipfile and its decompressors raise. bz2 reports a
# corrupt stream as OSError, so a genuine I/O error here refuses the file too: it fails closed.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OverflowError,
)


class TypePolicy(BaseModel):
    """[attachments] type policy: types allowed and the limits on archives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # DOMAIN.md: citizens send PDF, JPG/JPEG and PNG scans and screenshots; TIFF and HEIC are
    # what scanners and iPhones write; ZIP is a container whose members are checked. A
    # messenger's voice notes and videos are OGG and MP4; recordings MP3 and WebM.
    allowed: list[str] = [
        "pdf",
        "jpeg",
        "png",
        "tiff",
        "heic",
        "text",
        "docx",
        "odt",
        "xlsx",
        "zip",
        "ogg",
        "mp3",
        "mp4",
        "webm",
    ]
    # ClamAV's MaxRecursion is 17 (clamd.conf(5)) because a malware scanner must unpack all it
    # meets; citizens zip scans once, perhaps forwarded inside one more zip. 42.zip nests five
    # layers deep to reach its 4.5 PB.
    max_archive_depth: int = Field(2, ge=1)
    # ClamAV's MaxFiles is 10000; a message carries at most 20 files (DEFAULT_LIMITS), so
    # 1000 is fifty times any honest archive and a tenth of ClamAV's.
    max_archive_entries: int = Field(1000, ge=1)
    # ClamAV's MaxFileSize is 100M (MaxScanSize 400M, 100M before 0.104): clamd would not
    # scan a bigger member anyway. Fifield's zbsm.zip expands 42 kB to 5.5 GB.
    max_expanded_bytes: int = Field(100 * 1024 * 1024, ge=1)
    # Apache POI's ZipSecureFile refuses entries deflated better than 1% (MIN_INFLATE_RATIO
    # 0.01, i.e. 100:1) in office files; DEFLATE tops out at 1032:1, where the leaves of
    # 42.zip sit, while scans stay near 1:1 and office XML near 10:1.
    max_compression_ratio: int = Field(100, ge=1)

    @field_validator("allowed")
    @classmethod
    def _allowable(cls, allowed: list[str]) -> list[str]:
        refused = [name for name in allowed if name not in ALLOWABLE]
        if refused:
            raise ValueError(f"cannot allow {refused}; allowable: {sorted(ALLOWABLE)}")
        return allowed


class TypeVerdict(msgspec.Struct, frozen=True):
    """What a file is by content and whether the policy takes it."""

    detected: str
    content_type: str
    status: Literal["ok", "rejected"]
    reason: str | None = None
    reason_code: ReasonCode | None = None
    flags: tuple[str, ...] = ()


class _Refused(Exception):
    """Raised deep in an archive to refuse the whole file."""

    def __init__(self, refusal: TypeRefusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


def inspect(path: Path, *, filename: str, declared_type: str, policy: TypePolicy) -> TypeVerdict:
    """Detect the file's type by content and judge it, and an archive's members, by policy."""
    extension = _extension(filename)
    inspection = _Inspection(policy)
    with path.open("rb") as fh:
        detected = _sniff(fh.read(HEAD_BYTES), extension)
        try:
            if detected == "zip":
                with _zip_errors():
                    detected = inspection.open(fh, depth=0, where="")
            inspection.judge(detected, where="")
        except _Refused as refused:
            return inspection.verdict(detected, refused.refusal, extension, declared_type)
    return inspection.verdict(detected, None, extension, declared_type)


class _Inspection:
    """The state of one inspection: what the archives spent of the limits, and flags."""

    def __init__(self, policy: TypePolicy) -> None:
        self.policy = policy
        self.entries = 0
        self.expanded = 0
        self.flags: dict[str, None] = {}  # ordered and unique

    def verdict(
        self, detected: str, refusal: TypeRefusal | None, extension: str, declared_type: str
    ) -> TypeVerdict:
        """The verdict, flags included; an encrypted archive passes with its reason stated."""
        mismatch = _mismatch(detected, extension, declared_type)
        flags = (*(("type_mismatch",) if mismatch else ()), *self.flags)
        notice = refusal or (ENCRYPTED if "encrypted_archive" in self.flags else None)
        return TypeVerdict(
            detected=detected,
            content_type=TYPES[detected].mime,
            status="ok" if refusal is None else "rejected",
            reason=notice.reason if notice else None,
            reason_code=notice.code if notice else None,
            flags=flags,
        )

    def judge(self, kind: str, where: str) -> None:
        """Refuse a dangerous type or one the policy does not allow."""
        refusal = TYPES[kind].danger
        if refusal is None and kind not in self.policy.allowed:
            refusal = TypeRefusal(f"type {kind} not allowed", "type_not_allowed")
        if refusal is not None:
            raise _Refused(_inside(refusal, where))
        if kind in OPAQUE_ARCHIVES:
            self.flags["uninspected_archive"] = None

    def open(self, fh: IO[bytes], depth: int, where: str) -> str:
        """Open a ZIP-based file once its end record shows zipfile's parse to be bounded."""
        entries, directory = _end_record(fh)
        left = self.policy.max_archive_entries - self.entries
        # zipfile makes an object of every central entry before we can count them: refuse a
        # directory too big for the entries left, whatever count the record claims.
        if entries > left or directory > left * _CENTRAL_ENTRY_BYTES:
            _refuse(
                f"archive has too many files: {self.entries + entries} or more,"
                f" over {self.policy.max_archive_entries}",
                where,
            )
        with zipfile.ZipFile(fh) as archive:
            return self.archive(archive, depth, where)

    def archive(self, archive: zipfile.ZipFile, depth: int, where: str) -> str:
        """Check a ZIP-based file's central directory, classify it, expand a plain archive."""
        policy = self.policy
        members = archive.infolist()
        self.entries += len(members)
        if self.entries > policy.max_archive_entries:
            _refuse(f"archive has too many files: {self.entries} over {policy.max_archive_entries}")
        declared = sum(member.file_size for member in members)
        if declared > policy.max_expanded_bytes:
            _refuse(
                f"zip bomb: {declared} bytes unpacked, over {policy.max_expanded_bytes}",
                where=where,
            )
        for member in members:
            _check_name(member, where)
            _check_ratio(member, policy.max_compression_ratio, where)
        _check_overlap(archive, members, where)
        kind = _classify(archive)  # reads a member: only once the offsets are known sane
        if kind != "zip":
            return kind  # an office document: its parts are the scanner's business, not files
        if depth >= policy.max_archive_depth:
            _refuse("archive nested too deep", where)
        for member in members:
            if member.is_dir():
                continue
            inner = _joined(where, member.filename)
            if member.flag_bits & _ENCRYPTED_FLAG:
                # Unreadable, but a name Windows would run is refused all the same.
                risky = _BY_EXTENSION.get(_extension(member.filename))
                if risky:
                    self.judge(risky, inner)
                self.flags.update(dict.fromkeys(("encrypted_archive", "unscannable")))
                continue
            self.member(archive, member, depth, inner)
        return kind

    def member(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, depth: int, where: str
    ) -> None:
        """Stream one member, counting what it expands to; judge it, recursing into archives."""
        with archive.open(info) as stream, tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY) as spool:
            head = stream.read(HEAD_BYTES)
            kind = _sniff(head, _extension(info.filename))
            nested = kind == "zip"
            if not nested:
                self.judge(kind, where)  # refuse before expanding the rest
            chunk = head
            while chunk:
                self.expanded += len(chunk)
                if self.expanded > self.policy.max_expanded_bytes:
                    limit = self.policy.max_expanded_bytes
                    _refuse(f"zip bomb: over {limit} bytes unpacked", where=where)
                if nested:
                    spool.write(chunk)
                chunk = stream.read(_CHUNK)
            if nested:
                kind = self.open(spool, depth + 1, where)
                self.judge(kind, where)


def _refuse(reason: str, where: str = "") -> NoReturn:
    """Refuse the archive (the citizen is told it is too big, damaged or unsafe)."""
    raise _Refused(_inside(TypeRefusal(reason), where))


def _inside(refusal: TypeRefusal, where: str) -> TypeRefusal:
    """The refusal of a member, naming it, as the refusal of the whole archive."""
    if not where:
        return refusal
    return TypeRefusal(f"{refusal.reason} in archive: {where}", refusal.code)


def _joined(where: str, name: str) -> str:
    """A member's path for reasons: printable and short, whatever the archive's author chose."""
    shown = "".join("?" if unicodedata.category(ch)[0] == "C" else ch for ch in name)
    return f"{where}/{shown}"[-_NAME_SHOWN:] if where else shown[-_NAME_SHOWN:]


@contextmanager
def _zip_errors() -> Iterator[None]:
    """Refuse an archive that zipfile or zlib cannot read."""
    try:
        yield
    except _ZIP_ERRORS as exc:
        _refuse(f"damaged archive: {exc}")


def _check_name(member: zipfile.ZipInfo, where: str) -> None:
    """Refuse empty and absolute paths and "..": they land outside the target directory."""
    name = member.filename
    parts = re.split(r"[/\\]", name)
    if not name or name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
        _refuse(f"unsafe path in archive: {_joined(where, name)}")


def _check_ratio(member: zipfile.ZipInfo, limit: int, where: str) -> None:
    """Refuse a member that declares it expands more than `limit` times."""
    if member.file_size > _RATIO_GRACE_BYTES and member.file_size > limit * member.compress_size:
        ratio = member.file_size // max(member.compress_size, 1)
        _refuse(f"zip bomb: compression ratio {ratio} over {limit}", where=where)


def _check_overlap(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], where: str) -> None:
    """Refuse members whose data overlap: Fifield's "better zip bomb" reuses one kernel."""
    spans = sorted(
        (m.header_offset, m.header_offset + _LOCAL_HEADER + len(_raw_name(m)) + m.compress_size)
        for m in members
    )
    if spans and spans[0][0] < 0:
        _refuse("damaged archive: member before the start of the file", where)
    # The central directory follows the last member's data.
    fence = (archive.start_dir, archive.start_dir)
    for (_, end), (following, _) in itertools.pairwise([*spans, fence]):
        if end > following:
            _refuse("zip bomb: overlapping archive entries", where)


def _end_record(fh: IO[bytes]) -> tuple[int, int]:
    """Entries and central directory size as zipfile will read them (APPNOTE.TXT §4.3.14-16)."""
    end = fh.seek(0, os.SEEK_END)
    fh.seek(max(0, end - _TAIL_BYTES))
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        return 0, 0  # no end record: zipfile refuses the file itself
    _, _, _, _, entries, size, _, _ = _EOCD.unpack_from(tail, at)
    # zipfile prefers the ZIP64 record that sits right before its locator, if there is one.
    zip64 = at - _ZIP64_LOCATOR_BYTES - _ZIP64_EOCD.size
    if zip64 >= 0 and tail[at - _ZIP64_LOCATOR_BYTES : at].startswith(b"PK\x06\x07"):
        record = _ZIP64_EOCD.unpack_from(tail, zip64)
        if record[0] == b"PK\x06\x06":
            entries, size = record[7], record[8]
    return entries, size


def _raw_name(member: zipfile.ZipInfo) -> bytes:
    """The name as stored in the headers, to size the local header."""
    return member.orig_filename.encode("utf-8" if member.flag_bits & _UTF8_FLAG else "cp437")


def _classify(archive: zipfile.ZipFile) -> str:
    """Which ZIP-based type an archive is: ODF, OOXML (macros or not) or a plain zip."""
    members = archive.infolist()
    if members and members[0].filename == "mimetype":
        return _ODF.get(_read_small(archive, members[0]).strip(), "zip")
    names = archive.namelist()
    if "[Content_Types].xml" not in names:
        return "zip"
    manifest = _read_small(archive, archive.getinfo("[Content_Types].xml"))
    text = manifest.decode("utf-8", "replace").lower()
    main = next((t for t in _CONTENT_TYPE.findall(text) if t.endswith(_MAIN_PART)), "")
    family = next(((plain, macro) for key, plain, macro in _OOXML_FAMILIES if key in main), None)
    if family is None:
        return "zip"
    vba = any(PureWindowsPath(name).name.lower() == "vbaproject.bin" for name in names)
    return family[1] if vba or any(marker in text for marker in _MACRO_MARKERS) else family[0]


def _read_small(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    with archive.open(member) as stream:
        return stream.read(_MANIFEST_BYTES)


def _sniff(head: bytes, extension: str) -> str:
    """The type by content; a harmless content under a name that runs is a script."""
    kind = next(filter(None, (sniff(head) for sniff in _SNIFFERS)), "unknown")
    if TYPES[kind].danger is None:
        return _BY_EXTENSION.get(extension, kind)
    return kind


def _by_magic(head: bytes) -> str | None:
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def _by_ftyp(head: bytes) -> str | None:
    if head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    return "heic" if brand in _HEIF_BRANDS else "mp4" if brand in _MP4_BRANDS else None


def _by_markup(head: bytes) -> str | None:
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip(b"\t\n\x0c\r ")
    return "html" if _MARKUP.match(body) else None


def _by_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    for codec in _TEXT_CODECS:
        try:
            # Not final: the head may end inside a UTF-8 sequence.
            text = codecs.getincrementaldecoder(codec)().decode(head)
        except UnicodeDecodeError:
            continue
        controls = sum(
            1
            for ch in text
            if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in _NON_TEXT_CATEGORIES
        )
        return "text" if controls <= _MAX_CONTROL_SHARE * len(text) else None
    return None


_SNIFFERS: tuple[Callable[[bytes], str | None], ...] = (_by_magic, _by_ftyp, _by_markup, _by_text)


def _extension(filename: str) -> str:
    """The extension Windows would act on: it ignores trailing dots and spaces."""
    return PureWindowsPath(filename.rstrip(" .")).suffix.lower()


def _mismatch(detected: str, extension: str, declared_type: str) -> bool:
    """Whether the name or the declared type claims something other than the content."""
    kind = TYPES[detected]
    declared = declared_type.split(";")[0].strip().lower()
    return bool(extension and extension not in kind.extensions) or (
        declared not in _UNINFORMATIVE and declared not in kind.aliases
    )
