"""Attachment types by content, and the inspection of ZIP archives."""

from __future__ import annotations

import os
import struct
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from router.attachments.content_types import (
    DANGEROUS,
    TYPES,
    TypePolicy,
    TypeVerdict,
    inspect,
)
from tests.samples import (
    DOCX,
    ELF,
    HEIC,
    JPEG,
    MZ,
    OLE2,
    OOXML,
    PDF,
    PNG,
    TIFF,
    encrypted,
    odf,
    ooxml,
    zipped,
)

POLICY = TypePolicy()


def check(
    tmp_path: Path,
    data: bytes,
    filename: str = "attachment",
    declared: str = "",
    policy: TypePolicy = POLICY,
) -> TypeVerdict:
    path = tmp_path / "blob"
    path.write_bytes(data)
    return inspect(path, filename=filename, declared_type=declared, policy=policy)


# -- types by content ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "detected", "mime"),
    [
        (PDF, "scan.pdf", "pdf", "application/pdf"),
        (JPEG, "photo.JPG", "jpeg", "image/jpeg"),
        (PNG, "screen.png", "png", "image/png"),
        (TIFF, "scan.tif", "tiff", "image/tiff"),
        (b"MM\x00*" + bytes(32), "scan.tiff", "tiff", "image/tiff"),
        (HEIC, "IMG_0001.HEIC", "heic", "image/heic"),
        ("Прошу выдать справку.\r\n".encode(), "letter.txt", "text", "text/plain"),
        ("Прошу выдать справку.\r\n".encode("cp1251"), "letter.txt", "text", "text/plain"),
        ("Прошу выдать справку.\n".encode("koi8_r"), "letter.txt", "text", "text/plain"),
        (b"", "empty.txt", "text", "text/plain"),
        (DOCX, "application.docx", "docx", OOXML + "wordprocessingml.document"),
        (
            ooxml(OOXML + "spreadsheetml.sheet.main+xml", "xl/workbook.xml"),
            "table.xlsx",
            "xlsx",
            OOXML + "spreadsheetml.sheet",
        ),
        (
            odf("application/vnd.oasis.opendocument.text"),
            "letter.odt",
            "odt",
            "application/vnd.oasis.opendocument.text",
        ),
        (zipped({"a.pdf": PDF, "b.png": PNG}), "scans.zip", "zip", "application/zip"),
        (b"OggS\x00\x02" + bytes(64), "voice-3.ogg", "ogg", "audio/ogg"),
        (b"ID3\x04\x00" + bytes(64), "звонок.mp3", "mp3", "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + bytes(64), "call.mp3", "mp3", "audio/mpeg"),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(64), "экран.mp4", "mp4", "video/mp4"),
        (b"\x00\x00\x00\x1cftypM4A " + bytes(64), "memo.m4a", "mp4", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  " + bytes(64), "IMG_0002.MOV", "mp4", "video/mp4"),
        (b"\x1aE\xdf\xa3" + bytes(64), "screen.webm", "webm", "video/webm"),
    ],
)
def test_allowed_types_are_detected_and_pass(
    tmp_path: Path, data: bytes, filename: str, detected: str, mime: str
) -> None:
    verdict = check(tmp_path, data, filename)
    assert verdict == TypeVerdict(detected, mime, "ok")


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (ooxml(OOXML + "presentationml.presentation.main+xml", "ppt/presentation.xml"), "pptx"),
        (odf("application/vnd.oasis.opendocument.spreadsheet"), "ods"),
        (b"Rar!\x1a\x07\x01\x00" + bytes(32), "rar"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(32), "7z"),
        (b"\x1f\x8b\x08\x00" + bytes(32), "gzip"),
        (os.urandom(16) + bytes(16), "unknown"),
    ],
)
def test_types_outside_the_policy_are_refused(tmp_path: Path, data: bytes, detected: str) -> None:
    verdict = check(tmp_path, data)
    assert (verdict.detected, verdict.status) == (detected, "rejected")
    assert verdict.reason == f"type {detected} not allowed"
    assert verdict.reason_code == "type_not_allowed"


def test_an_allowed_archive_we_cannot_open_passes_flagged(tmp_path: Path) -> None:
    policy = TypePolicy(allowed=["pdf", "rar"])
    verdict = check(tmp_path, b"Rar!\x1a\x07\x00" + bytes(32), "docs.rar", policy=policy)
    assert (verdict.status, verdict.flags) == ("ok", ("uninspected_archive",))


@pytest.mark.parametrize(
    ("data", "filename", "detected", "reason"),
    [
        (MZ, "scan.pdf", "pe", "executable file"),
        (ELF, "scan", "elf", "executable file"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(24), "tool", "macho", "executable file"),
        (b"#!/bin/sh\nrm -rf ~\n", "notes.txt", "script", "script or program"),
        (b"alert(document.cookie)\n", "invoice.js", "script", "script or program"),
        (PDF, "invoice.pdf.exe", "script", "script or program"),
        (PDF, "invoice.exe. . ", "script", "script or program"),  # Windows drops the dots
        (DOCX, "tool.jar", "script", "script or program"),
        (b"L\x00\x00\x00\x01\x14\x02\x00" + bytes(68), "scan", "script", "script or program"),
        (OLE2, "letter.doc", "ole2", "legacy Office document or installer, may carry macros"),
        (b"<!DOCTYPE html><script>alert(1)</script>", "page", "html", "web page or SVG"),
        (b"\n  <HTML><body>hi</body></HTML>", "page.txt", "html", "web page or SVG"),
        (b'<?xml version="1.0"?>\n<svg onload="alert(1)">', "logo", "html", "web page or SVG"),
        (PNG, "logo.svg", "html", "web page or SVG"),
        (
            ooxml(
                OOXML + "wordprocessingml.document.main+xml",
                "word/document.xml",
                {"word/vbaProject.bin": OLE2},
            ),
            "letter.docx",
            "docm",
            "macro-enabled Office document",
        ),
        (
            ooxml("application/vnd.ms-excel.sheet.macroEnabled.main+xml", "xl/workbook.xml"),
            "table.xlsm",
            "xlsm",
            "macro-enabled Office document",
        ),
    ],
)
def test_dangerous_types_are_refused_whatever_their_name(
    tmp_path: Path, data: bytes, filename: str, detected: str, reason: str
) -> None:
    verdict = check(tmp_path, data, filename)
    assert (verdict.detected, verdict.status) == (detected, "rejected")
    assert verdict.reason is not None and verdict.reason.startswith(reason)
    assert detected in DANGEROUS


def test_an_executable_named_pdf_is_flagged_as_a_mismatch(tmp_path: Path) -> None:
    verdict = check(tmp_path, MZ, "scan.pdf", "application/pdf")
    assert verdict == TypeVerdict(
        detected="pe",
        content_type="application/vnd.microsoft.portable-executable",
        status="rejected",
        reason="executable file",
        reason_code="dangerous",
        flags=("type_mismatch",),
    )


@pytest.mark.parametrize(
    ("filename", "declared", "flags"),
    [
        ("screen.png", "image/png", ()),
        ("screen.PNG", "image/x-png; name=screen.png", ()),
        ("screen", "application/octet-stream", ()),
        ("screen.png", "", ()),
        ("screen.pdf", "", ("type_mismatch",)),
        ("screen.png", "application/pdf", ("type_mismatch",)),
    ],
)
def test_declared_type_and_name_are_compared_with_the_content(
    tmp_path: Path, filename: str, declared: str, flags: tuple[str, ...]
) -> None:
    verdict = check(tmp_path, PNG, filename, declared)
    assert (verdict.status, verdict.flags) == ("ok", flags)


def test_binary_without_magic_is_not_text(tmp_path: Path) -> None:
    control_heavy = bytes(range(1, 32)) * 20
    assert check(tmp_path, control_heavy, "notes.txt").detected == "unknown"
    assert check(tmp_path, b"text\x00with a NUL", "notes.txt").detected == "unknown"


def test_every_type_has_a_mime_type() -> None:
    assert all("/" in kind.mime for kind in TYPES.values())


# -- the policy ------------------------------------------------------------------------------


def test_the_policy_cannot_allow_dangerous_or_unknown_types() -> None:
    for name in ("pe", "docm", "script", "unknown", "exe"):
        with pytest.raises(ValidationError, match="cannot allow"):
            TypePolicy(allowed=["pdf", name])


def test_the_policy_is_strict_and_frozen() -> None:
    with pytest.raises(ValidationError):
        TypePolicy.model_validate({"max_archive_depht": 3})
    with pytest.raises(ValidationError):
        TypePolicy(max_archive_depth=0)
    with pytest.raises(ValidationError):
        POLICY.max_archive_depth = 5  # type: ignore[misc]


# -- archives --------------------------------------------------------------------------------


def test_a_zip_with_an_executable_is_refused_naming_it(tmp_path: Path) -> None:
    data = zipped({"scans/a.pdf": PDF, "scans/setup.exe": MZ})
    verdict = check(tmp_path, data, "scans.zip")
    assert (verdict.detected, verdict.status) == ("zip", "rejected")
    assert verdict.reason == "executable file in archive: scans/setup.exe"
    assert verdict.reason_code == "dangerous"
    assert verdict.reason is not None and verdict.reason.endswith("in archive: scans/setup.exe")


def test_a_member_type_outside_the_policy_refuses_the_archive(tmp_path: Path) -> None:
    verdict = check(tmp_path, zipped({"a.pdf": PDF, "b.7z": b"7z\xbc\xaf\x27\x1c"}), "x.zip")
    assert verdict.reason == "type 7z not allowed in archive: b.7z"


def test_member_names_are_shown_printable(tmp_path: Path) -> None:
    verdict = check(tmp_path, zipped({"evil\x1b[2J\u202eexe.pdf": MZ}), "x.zip")
    assert verdict.reason == "executable file in archive: evil?[2J?exe.pdf"


def test_a_zip_of_office_documents_passes(tmp_path: Path) -> None:
    assert check(tmp_path, zipped({"a.docx": DOCX, "b.pdf": PDF})).status == "ok"


def test_a_zip_bomb_is_refused_by_its_ratio_before_expanding(tmp_path: Path) -> None:
    data = zipped({"zeros.txt": bytes(50 * 1024 * 1024)})
    verdict = check(tmp_path, data, "bomb.zip")
    assert verdict.status == "rejected"
    assert verdict.reason is not None and verdict.reason.startswith("zip bomb: compression ratio")
    assert verdict.reason.endswith(" over 100")
    assert verdict.reason_code == "archive"


def test_an_office_document_is_a_zip_bomb_too(tmp_path: Path) -> None:
    data = ooxml(
        OOXML + "wordprocessingml.document.main+xml", "word/document.xml", {"pad": bytes(10**7)}
    )
    verdict = check(tmp_path, data, "letter.docx")
    # The central directory is judged before the document is classified: a plain zip to us.
    assert (verdict.detected, verdict.status) == ("zip", "rejected")
    assert verdict.reason is not None and verdict.reason.startswith("zip bomb")


def test_small_members_compress_as_well_as_they_like(tmp_path: Path) -> None:
    # 50 KB of spaces deflates a few hundred times, and harms no one.
    assert check(tmp_path, zipped({"form.txt": b" " * 50_000})).status == "ok"


def test_declared_sizes_over_the_limit_are_refused(tmp_path: Path) -> None:
    policy = TypePolicy(max_expanded_bytes=100_000)
    data = zipped({"a.txt": os.urandom(60_000).hex().encode()}, zipfile.ZIP_STORED)
    verdict = check(tmp_path, data, policy=policy)
    assert verdict.reason == "zip bomb: 120000 bytes unpacked, over 100000"


def test_nested_archives_are_counted_as_they_expand(tmp_path: Path) -> None:
    # Each archive alone declares less than the limit; together they expand past it.
    text = b"".join(b"line %d of a long but honest register\n" % i for i in range(15_000))
    inner = zipped({"register.txt": text})
    outer = zipped({f"part{i}.zip": inner for i in range(3)}, zipfile.ZIP_STORED)
    policy = TypePolicy(max_expanded_bytes=len(text) * 2)
    assert len(inner) * 3 < policy.max_expanded_bytes
    verdict = check(tmp_path, outer, "parts.zip", policy=policy)
    limit = policy.max_expanded_bytes
    assert verdict.reason is not None
    assert verdict.reason.startswith(f"zip bomb: over {limit} bytes unpacked in archive: part")


def test_a_nested_zip_bomb_is_refused(tmp_path: Path) -> None:
    inner = zipped({"zeros.bin": bytes(20 * 1024 * 1024)})
    verdict = check(tmp_path, zipped({"inner.zip": inner}), "nested.zip")
    assert verdict.status == "rejected"
    assert verdict.reason is not None and verdict.reason.startswith("zip bomb: compression ratio")


def test_archives_nest_only_as_deep_as_the_policy_says(tmp_path: Path) -> None:
    two_deep = zipped({"inner.zip": zipped({"scan.pdf": PDF})})
    assert check(tmp_path, two_deep).status == "ok"
    three_deep = zipped({"middle.zip": two_deep})
    verdict = check(tmp_path, three_deep)
    assert verdict.reason == "archive nested too deep in archive: middle.zip/inner.zip"
    assert check(tmp_path, two_deep, policy=TypePolicy(max_archive_depth=1)).status == "rejected"


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    data = zipped({f"{i}.txt": b"x" for i in range(1001)})
    verdict = check(tmp_path, data)
    assert verdict.reason == "archive has too many files: 1001 or more, over 1000"
    assert check(tmp_path, zipped({f"{i}.txt": b"x" for i in range(1000)})).status == "ok"


def test_an_end_record_that_understates_the_entries_is_caught(tmp_path: Path) -> None:
    data = bytearray(zipped({f"{i}.txt": b"x" for i in range(1500)}))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)  # entries on this disk and in all
    verdict = check(tmp_path, bytes(data))
    assert verdict.reason == "archive has too many files: 1500 over 1000"


def test_a_central_directory_too_big_for_the_entries_is_refused_unparsed(tmp_path: Path) -> None:
    policy = TypePolicy(max_archive_entries=10)
    data = bytearray(zipped({f"{i:0200}.txt": b"x" for i in range(60)}))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)
    verdict = check(tmp_path, bytes(data), policy=policy)
    assert verdict.reason == "archive has too many files: 1 or more, over 10"


def test_the_zip64_end_record_is_what_counts(tmp_path: Path) -> None:
    data = zipped({"a.pdf": PDF})
    end = data.rfind(b"PK\x05\x06")
    _, _, _, _, _, size, offset, _ = struct.unpack_from("<4s4H2LH", data, end)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 5000, 5000, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    verdict = check(tmp_path, data[:end] + record + locator + data[end:])
    assert verdict.reason == "archive has too many files: 5000 or more, over 1000"


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/cron.d/x", "C:x.txt"])
def test_unsafe_member_paths_are_refused(tmp_path: Path, name: str) -> None:
    verdict = check(tmp_path, zipped({"ok.txt": b"fine", name: b"payload"}))
    assert verdict.reason == f"unsafe path in archive: {name}"


def test_windows_separators_cannot_hide_a_traversal(tmp_path: Path) -> None:
    verdict = check(tmp_path, zipped({"..\\..\\evil.txt": b"payload"}))
    assert verdict.reason is not None and verdict.reason.startswith("unsafe path")


def _central_entries(data: bytes) -> list[int]:
    """Offsets of the central directory headers."""
    offsets, at = [], data.find(b"PK\x01\x02")
    while at != -1:
        offsets.append(at)
        at = data.find(b"PK\x01\x02", at + 1)
    return offsets


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    # Fifield's construction in miniature: a second central entry that points at the first
    # member's local header, so both "files" share one compressed kernel.
    data = bytearray(zipped({"a.txt": b"a" * 1000, "b.txt": b"b" * 1000}))
    second = _central_entries(bytes(data))[1]
    struct.pack_into("<I", data, second + 42, 0)  # relative offset of local header
    verdict = check(tmp_path, bytes(data))
    assert verdict.reason == "zip bomb: overlapping archive entries"


def test_an_encrypted_archive_passes_but_is_unscannable(tmp_path: Path) -> None:
    verdict = check(tmp_path, encrypted({"scan.pdf": PDF}), "scans.zip")
    assert verdict == TypeVerdict(
        detected="zip",
        content_type="application/zip",
        status="ok",
        reason="encrypted archive: contents cannot be scanned",
        reason_code="encrypted",
        flags=("encrypted_archive", "unscannable"),
    )


def test_an_encrypted_member_named_to_run_is_refused(tmp_path: Path) -> None:
    verdict = check(tmp_path, encrypted({"scan.pdf": PDF, "setup.exe": MZ}), "scans.zip")
    assert verdict.reason == "script or program in archive: setup.exe"


def test_a_damaged_archive_is_refused(tmp_path: Path) -> None:
    data = bytearray(zipped({"scan.pdf": PDF * 50}))
    data[40:60] = bytes(20)  # inside the compressed data
    verdict = check(tmp_path, bytes(data), "scans.zip")
    assert (verdict.status, verdict.reason_code) == ("rejected", "archive")
    assert check(tmp_path, b"PK\x03\x04" + bytes(100)).reason is not None


def test_a_large_member_is_streamed_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("scan.pdf", PDF + os.urandom(20 * 1024 * 1024))
    tracemalloc.start()
    try:
        verdict = inspect(path, filename="big.zip", declared_type="", policy=POLICY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict.status == "ok"
    assert peak < 2 * 1024 * 1024


# -- properties ------------------------------------------------------------------------------

examples = settings(max_examples=300)


def inspect_bytes(data: bytes, filename: str = "file") -> TypeVerdict:
    with tempfile.TemporaryDirectory() as directory:
        return check(Path(directory), data, filename)


@examples
@given(st.binary(max_size=4096), st.sampled_from(["file", "a.pdf", "a.zip", "a.exe", ""]))
def test_random_bytes_always_get_a_verdict(data: bytes, filename: str) -> None:
    verdict = inspect_bytes(data, filename)
    assert verdict.detected in TYPES
    assert verdict.status in ("ok", "rejected")
    assert (verdict.status == "rejected") == (verdict.reason is not None)


@examples
@given(st.binary(max_size=2048))
def test_random_zip_like_bytes_always_get_a_verdict(tail: bytes) -> None:
    assert inspect_bytes(b"PK\x03\x04" + tail).detected in TYPES


VALID_ZIP = zipped({"a.pdf": PDF, "inner.zip": zipped({"b.txt": b"hello " * 100})})


@examples
@given(st.lists(st.tuples(st.integers(0, len(VALID_ZIP) - 1), st.integers(0, 255)), max_size=8))
def test_corrupted_archives_always_get_a_verdict(changes: list[tuple[int, int]]) -> None:
    data = bytearray(VALID_ZIP)
    for at, value in changes:
        data[at] = value
    assert inspect_bytes(bytes(data), "a.zip").detected in TYPES


@examples
@given(st.binary(min_size=1, max_size=1023))
def test_pdf_must_start_at_offset_zero(prefix: bytes) -> None:
    # Acrobat finds a header anywhere in the first 1024 bytes; we do not: a prefix is how
    # PDF polyglots are made, and no scanner or office suite writes one.
    assume(not prefix.startswith(b"%PDF-"))
    assert inspect_bytes(prefix + PDF, "scan.pdf").detected != "pdf"
