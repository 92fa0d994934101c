"""A Subject as threading reads it: reply prefixes, and the ticket's tag put in once.

Shared by the router, which tags every notice's Subject with router.toml's [tickets]
subject_tag and reads a citizen's category code after the prefixes and tags, and the email
channel, which reads an autoreply's Subject without its prefixes. The rest of what a subject
says is read where the router reads every channel's text: the category code at its start by
router/ticketing/catalogue.py, «статус N» (Latin look-alike letters too) by
normaliser/commands.py, and a ticket number by normaliser/identifiers.py, which checks its Damm
digit.
"""

from __future__ import annotations

import re
import string
from functools import cached_property

DEFAULT_TAG = "[№{number}]"  # router.toml [tickets] subject_tag, CONTRACTS.md "Ticket numbers"
TICKET_DIGITS = 10  # 2-digit year + 7-digit counter + Damm digit (CONTRACTS.md)

# What mail clients put before a subject they answer or forward, repeated as often as the
# thread went back and forth: English (Re, Fw, Fwd), Outlook in Russian (Ответ, Отв, Пересл),
# German (AW, WG), Scandinavian (SV, VS), Dutch (Antw, Doorst) and French (TR) clients that
# citizens' employers run; a count as "Re[2]:" or "Re(2):" (Thunderbird, older Outlook).
_REPLY_PREFIXES = re.compile(
    r"""\A(?:\s*
        (?:re|fwd?|aw|wg|sv|vs|antw|doorst|tr|ответ|отв|пересл|переслано)
        \s*(?:\[\d+\]|\(\d+\))?\s*[:：]
    )+\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def reply_prefixes(subject: str) -> str:
    """The reply and forward prefixes at the start of `subject` ("Re: Fwd: "), or ""."""
    match = _REPLY_PREFIXES.match(subject)
    return match[0] if match else ""


def without_reply_prefixes(subject: str) -> str:
    """`subject` without its reply and forward prefixes: "Re: Отв: [01] X" gives "[01] X"."""
    return subject[len(reply_prefixes(subject)) :].strip()


class SubjectTag:
    """The ticket's tag in a Subject, `template` as in [tickets] subject_tag ("[№{number}]")."""

    def __init__(self, template: str = DEFAULT_TAG, *, digits: int = TICKET_DIGITS) -> None:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        if fields != ["number"]:
            raise ValueError("a subject tag holds {number} once and no other placeholder")
        self.template = template
        self.digits = digits

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The tag as clients give it back: in any case, with spaces around the number."""
        before, _, after = self.template.partition("{number}")
        return re.compile(
            rf"{_loosely(before)}\s*(?<!\d)(?P<number>\d{{{self.digits}}})(?!\d)\s*{_loosely(after)}",
            re.IGNORECASE,
        )

    def numbers(self, subject: str) -> list[str]:
        """The ticket numbers tagged in `subject`, in order (not checked: see the module)."""
        return [match["number"] for match in self.pattern.finditer(subject)]

    def tagged(self, subject: str, number: str) -> str:
        """`subject` with the tag of `number` after its reply prefixes, unless it has it already
        (an answer to a citizen's reply to our notice keeps one tag, not one per round)."""
        if number in self.numbers(subject):
            return subject
        prefixes = reply_prefixes(subject)
        rest = subject[len(prefixes) :].strip()
        tag = self.template.format(number=number)
        return f"{prefixes}{tag} {rest}".rstrip()

    def topic(self, subject: str) -> str:
        """What the citizen wrote in `subject`: without reply prefixes and without tags, so the
        category code stands first again ("Re: [№2600000128] [01] Справка" → "[01] Справка")."""
        rest = self.pattern.sub(" ", without_reply_prefixes(subject))
        return without_reply_prefixes(" ".join(rest.split()))


def _loosely(literal: str) -> str:
    # Clients and citizens pad a tag ("[ № 2600000128 ]") or fold its spaces: between its words
    # and signs any run of spaces matches, or none.
    return r"\s*".join(re.escape(token) for token in re.findall(r"\w+|\S", literal))
