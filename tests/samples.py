"""Files of every kind the tests send: tiny but real headers and containers."""

from __future__ import annotations

import io
import struct
import zipfile

OOXML = "application/vnd.openxmlformats-officedocument."

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(64)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
TIFF = b"II*\x00\x08\x00\x00\x00" + bytes(32)
HEIC = struct.pack(">I", 24) + b"ftypheic" + bytes(4) + b"mif1heic" + bytes(32)
MZ = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(56) + b"PE\x00\x00" + bytes(64)
ELF = b"\x7fELF\x02\x01\x01" + bytes(57)
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
XLSX_MAIN = OOXML + "spreadsheetml.sheet.main+xml"
ODT_MIME = "application/vnd.oasis.opendocument.text"


def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP archive of the members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def ooxml(main: str, part: str, extra: dict[str, bytes] | None = None) -> bytes:
    """An Office Open XML package whose main part has the given content type."""
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{part}" ContentType="{main}"/></Types>'
    )
    return zipped({"[Content_Types].xml": types.encode(), part: b"<doc/>", **(extra or {})})


def odf(mimetype: str) -> bytes:
    """An OpenDocument package of the given mimetype."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", b"<office:document-content/>", zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


DOCX = ooxml(OOXML + "wordprocessingml.document.main+xml", "word/document.xml")
XLSX = ooxml(XLSX_MAIN, "xl/workbook.xml")
ODT = odf(ODT_MIME)


def encrypted(members: dict[str, bytes]) -> bytes:
    """An archive whose members say they are encrypted (zipfile cannot write real ones)."""
    data = bytearray(zipped(members, zipfile.ZIP_STORED))
    for header, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(header)
        while at != -1:
            (flags,) = struct.unpack_from("<H", data, at + flag_at)
            struct.pack_into("<H", data, at + flag_at, flags | 1)
            at = data.find(header, at + 1)
    return bytes(data)
