"""An HTML body as readable text and as HTML safe to show an operator.

Text comes from inscriptis (a layout-aware renderer: tables, lists and block margins come out
as a browser lays them out, and Outlook's Word HTML with its `<o:p>` tags and conditional
comments is just HTML to it), with each link kept as "text (url)". The HTML is sanitised by nh3
(the Ammonia sanitiser): no scripts, styles, event handlers or javascript: URLs; `cid:` images
stay so that a viewer can show inline images from the message's own parts.
"""

from __future__ import annotations

import re
import textwrap
from urllib.parse import urlsplit

import lxml.etree
import lxml.html
import nh3
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.html_engine import Inscriptis
from inscriptis.model.config import ParserConfig

# libxml2 refuses NUL and most C0 controls; they carry nothing readable in an HTML body.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CID = re.compile(r"""cid:([^"'\s)>]+)""", re.IGNORECASE)


# Firefox's defaults, not inscriptis's "relaxed" profile, which indents every <div>.
_CONFIG = ParserConfig(css=CSS_PROFILES["strict"])
_URL_SCHEMES = nh3.ALLOWED_URL_SCHEMES | {"cid"}
_SHOWN_SCHEMES = frozenset({"http", "https", "ftp", "mailto", "tel"})
# Elements whose content is no text for a reader: nh3 drops script and style with their
# content by default; a <title> would otherwise leave its words at the top of the body.
_DROPPED_WITH_CONTENT = nh3.CLEAN_CONTENT_TAGS | {"title"}


def to_text(html: str) -> str:
    """The text a reader sees in `html`, links as "text (url)"."""
    try:
        tree = lxml.html.document_fromstring(_CONTROLS.sub("", html))
    except (lxml.etree.ParserError, ValueError):  # nothing but whitespace or comments
        return ""
    for link in tree.iter("a"):
        target = (link.get("href") or "").strip()
        shown = link.text_content().strip()
        # A link that shows its own address ("a@b.ru" to mailto:a@b.ru) needs it only once;
        # a javascript: or data: target is nothing a reader could follow.
        scheme = urlsplit(target).scheme.lower()
        if scheme in _SHOWN_SCHEMES and shown not in (target, _bare(target)):
            link.tail = f" ({target})" + (link.tail or "")
    return textwrap.dedent(Inscriptis(tree, _CONFIG).get_text()).strip("\n")


def _bare(target: str) -> str:
    """A mailto: or tel: link's address without its scheme."""
    scheme, _, rest = target.partition(":")
    return rest if scheme.lower() in ("mailto", "tel") else target


def sanitised(html: str) -> str:
    """`html` with everything that could run, track or restyle a viewer's page removed."""
    return nh3.clean(
        _CONTROLS.sub("", html),
        url_schemes=_URL_SCHEMES,
        clean_content_tags=_DROPPED_WITH_CONTENT,
    )


def content_ids(html: str) -> set[str]:
    """The Content-IDs `html` shows as images (`cid:` URLs), without angle brackets."""
    return {m.lower() for m in _CID.findall(html)}
