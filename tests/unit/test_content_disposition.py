"""The Content-Disposition of a served attachment: a name a client can save under safely."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from channels.http import content_disposition


def _names(header: str) -> tuple[str, str]:
    """(filename, filename*) of the header, filename* decoded."""
    plain = header.split('filename="', 1)[1].split('"', 1)[0]
    extended = unquote(header.split("filename*=UTF-8''", 1)[1])
    return plain, extended


@pytest.mark.parametrize(
    ("given", "saved"),
    [
        ("справка.pdf", "справка.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\system32\\evil.dll", "evil.dll"),
        (".bashrc", "bashrc"),
        ("отчёт\u202eFDP.exe", "отчётFDP.exe"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("..", "file"),
    ],
)
def test_only_the_last_component_without_controls_is_offered(given: str, saved: str) -> None:
    """Paths, leading dots, controls and bidi overrides never reach the name a client saves."""
    plain, extended = _names(content_disposition(given))
    assert extended == saved
    assert "/" not in plain and "\\" not in plain and not plain.startswith(".")
    assert plain.isascii() and plain.isprintable()
    assert len(plain) == len(saved)


def test_quotes_and_semicolons_cannot_end_the_parameter() -> None:
    """A quote or semicolon in the name is replaced in the plain form, encoded in filename*."""
    header = content_disposition('a";b.pdf')
    assert header.startswith('attachment; filename="a__b.pdf"; ')
    assert _names(header)[1] == 'a";b.pdf'
