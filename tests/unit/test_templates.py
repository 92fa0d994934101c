"""Outbound templates: the shipped texts, rendering rules and load-time checks."""

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from channels.contract import Channel
from router.delivery.templates import TemplateError, Templates, format_due
from router.ticketing.catalogue import STATUSES

SHIPPED = Path(__file__).parents[2] / "config" / "templates"
TEMPLATES = Templates.load(SHIPPED)
MOSCOW = ZoneInfo("Europe/Moscow")
DUE = "23.11.2026 14:30 (МСК)"
HELP = "https://www.gosuslugi.ru/help"
CHANNELS: tuple[Channel, ...] = ("email", "sms", "messenger", "webchat", "form")

# What the notifier passes for each event; optional fields filled in.
FIELDS: dict[str, dict[str, str]] = {
    "confirmation": {"ticket": "2600000128", "category": "Справки", "first_response_due": DUE},
    "added_to_request": {"ticket": "2600000128"},
    "reply": {"ticket": "2600000128", "text": "Справка готова."},
    "status_query_answer": {
        "ticket": "2600000128",
        "category": "Справки",
        "status": "in_progress",
        "expected_at": DUE,
    },
    "status_query_not_found": {"ticket": "2600000129"},
    **{
        f"status.{status}": {
            "ticket": "2600000128",
            "category": "Справки",
            "comment": "Запросили сведения в ведомстве.",
            "expected_at": DUE,
        }
        for status in STATUSES
    },
}
FIELDS["status.rejected"]["reason"] = "заявление подано повторно"


def problems(directory: Path) -> list[str]:
    with pytest.raises(TemplateError) as info:
        Templates.load(directory)
    return [f"{p.file.name}: {p.key}: {p.reason}" for p in info.value.problems]


def shipped_copy(tmp_path: Path, old: str = "", new: str = "", language: str = "ru") -> Path:
    """The shipped templates in `tmp_path`, with `old` replaced by `new` in one language."""
    shutil.copytree(SHIPPED, tmp_path, dirs_exist_ok=True)
    path = tmp_path / f"{language}.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


# The shipped files.


def test_shipped_languages() -> None:
    assert TEMPLATES.languages == {"en": "English", "ru": "Русский"}


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("event", list(FIELDS))
def test_every_event_renders_with_its_number(event: str, channel: Channel, language: str) -> None:
    text = TEMPLATES.render(event, language=language, channel=channel, **FIELDS[event])
    assert FIELDS[event]["ticket"] in text
    assert "{" not in text and "[[" not in text and "]]" not in text
    assert text == text.strip()


@pytest.mark.parametrize("status", STATUSES)
def test_status_notice_has_number_status_time_and_link(status: str) -> None:
    # DOMAIN.md: number, new status, expected completion time and reference links.
    text = TEMPLATES.render(
        f"status.{status}", language="ru", channel="email", **FIELDS[f"status.{status}"]
    )
    assert "2600000128" in text
    assert TEMPLATES.status_name(status, "ru") in text
    assert "https://www.gosuslugi.ru/help" in text
    if status not in ("awaiting_citizen", "resolved", "rejected"):
        assert DUE in text


def test_ru_confirmation() -> None:
    text = TEMPLATES.render(
        "confirmation", language="ru", channel="webchat", **FIELDS["confirmation"]
    )
    assert text.startswith("Ваше обращение №2600000128 зарегистрировано. Тема: Справки.")
    assert f"Ответим до {DUE}." in text


def test_ru_sms_fit_one_message() -> None:
    # DOMAIN.md "SMS": UCS2 carries 70 characters in one SMS.
    for event in (
        "confirmation",
        "added_to_request",
        "status.in_progress",
        "status_query_not_found",
    ):
        fields = {k: v for k, v in FIELDS[event].items() if k not in ("comment", "expected_at")}
        text = TEMPLATES.render(event, language="ru", channel="sms", **fields)
        assert len(text) <= 70, text


COMMAND_ANSWERS = ("stop_confirmation", "start_confirmation", "help")


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("event", COMMAND_ANSWERS)
def test_command_answers_fit_one_sms(event: str, language: str) -> None:
    # DOMAIN.md "SMS": one SMS holds 70 characters in UCS2 (Cyrillic), 160 in GSM-7.
    for channel in CHANNELS:
        text = TEMPLATES.render(event, language=language, channel=channel)
        assert "{" not in text and "[[" not in text and text == text.strip()
    sms = TEMPLATES.render(event, language=language, channel="sms")
    assert len(sms) <= (160 if sms.isascii() else 70), sms


@pytest.mark.parametrize("language", ["ru", "en"])
def test_help_names_the_commands_and_the_link(language: str) -> None:
    words = {"ru": ("СТАТУС", "СТОП", "СТАРТ"), "en": ("STATUS", "STOP", "START")}[language]
    for channel in CHANNELS:
        text = TEMPLATES.render("help", language=language, channel=channel)
        assert all(word in text for word in words) and HELP in text


def test_added_to_request() -> None:
    assert (
        TEMPLATES.render(
            "added_to_request", language="ru", channel="messenger", ticket="2600000128"
        )
        == "Ваше сообщение добавлено к обращению №2600000128. Спасибо!"
    )


def test_status_query_answer_shows_the_status_name() -> None:
    fields = FIELDS["status_query_answer"] | {"status": "awaiting_citizen"}
    assert "«Ожидает ответа заявителя»" in TEMPLATES.render(
        "status_query_answer", language="ru", channel="email", **fields
    )
    with pytest.raises(ValueError, match="unknown status 'done'"):
        TEMPLATES.render(
            "status_query_answer", language="ru", channel="email", **fields | {"status": "done"}
        )


def test_status_names() -> None:
    names = [TEMPLATES.status_name(status, "ru") for status in STATUSES]
    assert names == [
        "Принято",
        "В обработке",
        "На согласовании",
        "Ожидает ответа заявителя",
        "Выполнено",
        "Отклонено",
    ]
    assert TEMPLATES.status_name("resolved", "en") == "Resolved"
    assert TEMPLATES.status_name("resolved", "tt") == "Выполнено"


# Rendering rules.


def test_optional_segments_are_dropped_when_empty() -> None:
    fields = {"ticket": "2600000128", "category": "Справки"}
    bare = TEMPLATES.render("status.in_progress", language="ru", channel="sms", **fields)
    assert bare == f"Обращение №2600000128: В обработке. {HELP}"
    empty = TEMPLATES.render(
        "status.in_progress", language="ru", channel="sms", expected_at="", comment="", **fields
    )
    assert empty == bare
    dated = TEMPLATES.render(
        "status.in_progress", language="ru", channel="sms", expected_at=DUE, **fields
    )
    assert dated == f"Обращение №2600000128: В обработке. Срок: {DUE}. {HELP}"


def test_comment_segment_in_the_default_text() -> None:
    fields = {"ticket": "2600000128", "category": "Справки"}
    without = TEMPLATES.render("status.in_progress", language="ru", channel="email", **fields)
    assert "Комментарий" not in without and "Ожидаемый срок" not in without
    with_comment = TEMPLATES.render(
        "status.in_progress", language="ru", channel="email", comment="Ждём ответа ФНС.", **fields
    )
    assert "\nКомментарий: Ждём ответа ФНС.\n" in with_comment


def test_field_values_are_not_reparsed() -> None:
    text = TEMPLATES.render(
        "reply", language="ru", channel="sms", ticket="2600000128", text="{ticket} [[x]]"
    )
    assert text == "№2600000128: {ticket} [[x]]"


def test_language_falls_back_to_russian() -> None:
    fields = FIELDS["added_to_request"]
    assert TEMPLATES.render("added_to_request", language="tt", channel="sms", **fields) == (
        TEMPLATES.render("added_to_request", language="ru", channel="sms", **fields)
    )


def test_channel_without_override_uses_default() -> None:
    fields = FIELDS["added_to_request"]
    texts = {
        c: TEMPLATES.render("added_to_request", language="en", channel=c, **fields)
        for c in CHANNELS
    }
    assert texts["sms"] == "Message added to request No. 2600000128."
    assert texts["email"] == texts["webchat"] == texts["form"] != texts["sms"]


@pytest.mark.parametrize(
    ("event", "fields", "message"),
    [
        ("nonsense", {}, "unknown event 'nonsense'"),
        ("added_to_request", {}, r"added_to_request needs \{ticket\}"),
        ("added_to_request", {"ticket": ""}, r"added_to_request needs \{ticket\}"),
        (
            "added_to_request",
            {"ticket": "1", "comment": "x"},
            r"added_to_request takes no \{comment\}",
        ),
        (
            "status.resolved",
            {"ticket": "1", "category": "x", "reason": "x"},
            r"takes no \{reason\}",
        ),
        ("status.rejected", {"ticket": "1", "category": "x"}, r"status.rejected needs \{reason\}"),
        (
            "status.accepted",
            {"ticket": "1", "category": "x", "status": "x"},
            r"takes no \{status\}",
        ),
    ],
)
def test_render_refuses_wrong_fields(event: str, fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TEMPLATES.render(event, language="ru", channel="sms", **fields)


def test_render_refuses_unknown_channel() -> None:
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        fax: Any = "fax"
        TEMPLATES.render("added_to_request", language="ru", channel=fax, ticket="1")


# format_due.


def test_format_due_in_moscow() -> None:
    due = datetime(2026, 11, 23, 11, 30, tzinfo=UTC)
    assert format_due(due, "ru", MOSCOW) == "23.11.2026 14:30 (МСК)"
    assert format_due(due, "en", MOSCOW) == "23 Nov 2026 14:30 MSK"
    assert (
        format_due(datetime(2026, 3, 5, 6, 5, tzinfo=UTC), "en", MOSCOW) == "5 Mar 2026 09:05 MSK"
    )
    assert format_due(due, "tt", MOSCOW) == "23.11.2026 14:30 (МСК)"


def test_format_due_in_other_zones() -> None:
    due = datetime(2026, 11, 23, 11, 30, tzinfo=UTC)
    assert format_due(due, "ru", ZoneInfo("Asia/Yekaterinburg")) == "23.11.2026 16:30 (МСК+2)"
    assert format_due(due, "ru", ZoneInfo("Europe/Kaliningrad")) == "23.11.2026 13:30 (МСК-1)"
    assert format_due(due, "ru", ZoneInfo("Asia/Kolkata")) == "23.11.2026 17:00 (МСК+2:30)"
    assert format_due(due, "en", ZoneInfo("Asia/Yekaterinburg")) == "23 Nov 2026 16:30 UTC+5"
    assert format_due(due, "en", ZoneInfo("UTC")) == "23 Nov 2026 11:30 UTC"
    assert format_due(due, "en", ZoneInfo("Europe/Berlin")) == "23 Nov 2026 12:30 CET"


# Load-time checks: every mistake is reported with file, key and reason.


def test_missing_default_language(tmp_path: Path) -> None:
    shutil.copy(SHIPPED / "en.toml", tmp_path)
    assert problems(tmp_path) == ["ru.toml: -: the default language is missing"]


def test_a_language_is_added_by_a_file_alone(tmp_path: Path) -> None:
    shipped_copy(tmp_path, 'name = "Русский"', 'name = "Татарча"')
    (tmp_path / "ru.toml").rename(tmp_path / "tt.toml")
    shutil.copy(SHIPPED / "ru.toml", tmp_path)
    assert Templates.load(tmp_path).languages == {"en": "English", "ru": "Русский", "tt": "Татарча"}


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'sms = "Обращение №{ticket} отклонено. Причина: {reason} {help_url}"',
            'sms = "Обращение №{ticket} отклонено. {help_url}"',
            r"status.rejected.sms: must use {reason} outside [[ ]]",
        ),
        (
            'sms = "Обращение №{ticket} отклонено. Причина: {reason} {help_url}"',
            'sms = "Обращение №{ticket} отклонено.[[ Причина: {reason}]] {help_url}"',
            r"status.rejected.sms: must use {reason} outside [[ ]]",
        ),
        (
            'sms = "Обращение №{ticket} выполнено.[[ {comment}]] {help_url}"',
            'sms = "Обращение №{ticket} выполнено. {comment}"',
            "status.resolved.sms: {comment} may be empty: put it inside [[ ]]",
        ),
        (
            'sms = "Сообщение добавлено к обращению №{ticket}."',
            'sms = "Сообщение добавлено к обращению №{ticket}. {status}"',
            "added_to_request.sms: {status} not available here "
            "(use {help_url}, {not_accepted}, {ticket})",
        ),
        (
            'sms = "Сообщение добавлено к обращению №{ticket}."',
            'sms = "Сообщение добавлено."',
            "added_to_request.sms: must use {ticket} outside [[ ]]",
        ),
        (
            'sms = "Команды: СТАТУС, СТОП, СТАРТ. Справка: {help_url}"',
            'sms = "Команды: СТАТУС, СТОП, СТАРТ."',
            "help.sms: must use {help_url} outside [[ ]]",
        ),
        (
            'sms = "Вы отписаны, сообщений сюда больше не будет. Вернуть: СТАРТ"',
            'sms = "Вы отписаны от обращения №{ticket}."',
            "stop_confirmation.sms: {ticket} not available here (use {help_url})",
        ),
        (
            'sms = "Сообщение добавлено к обращению №{ticket}."',
            'sms = "Сообщение добавлено к обращению №{0}."',
            "added_to_request.sms: {0}: placeholders are plain names such as {ticket}",
        ),
        (
            'sms = "Сообщение добавлено к обращению №{ticket}."',
            'sms = "Сообщение добавлено к обращению №{ticket!r:>12}."',
            "added_to_request.sms: {ticket}: placeholders are plain names such as {ticket}",
        ),
        (
            'sms = "Сообщение добавлено к обращению №{ticket}."',
            'sms = "Сообщение добавлено к обращению №{ticket."',
            "added_to_request.sms: expected '}' before end of string",
        ),
        (
            'sms = "Обращение №{ticket} выполнено.[[ {comment}]] {help_url}"',
            'sms = "Обращение №{ticket} выполнено.[[ [[{comment}]]]] {help_url}"',
            "status.resolved.sms: [[ ]] cannot be nested",
        ),
        (
            'sms = "Обращение №{ticket} выполнено.[[ {comment}]] {help_url}"',
            'sms = "Обращение №{ticket} выполнено.[[ {comment} {help_url}"',
            "status.resolved.sms: [[ without ]]",
        ),
        (
            'sms = "Обращение №{ticket} выполнено.[[ {comment}]] {help_url}"',
            'sms = "Обращение №{ticket} выполнено. {comment}]] {help_url}"',
            "status.resolved.sms: ]] without [[",
        ),
        (
            'sms = "Обращение №{ticket} выполнено.[[ {comment}]] {help_url}"',
            'sms = "Обращение №{ticket} выполнено.[[ {comment}]]"',
            "status.resolved.sms: must use {help_url} outside [[ ]]",
        ),
        (
            'sms = "Обращение №{ticket} принято. Ответим до {first_response_due}."',
            'sms = "Обращение №{ticket} принято."',
            "confirmation.sms: must use {first_response_due} outside [[ ]]",
        ),
        (
            'sms = "№{ticket}: {text}"',
            'sms = "№{ticket}: ответ в личном кабинете"',
            "reply.sms: must use {text} outside [[ ]]",
        ),
        (
            'sms = "Обращение №{ticket}: {status}.[[ Срок: {expected_at}.]] {help_url}"',
            'tg = "Обращение №{ticket}: {status}."',
            "status_query_answer.tg: Extra inputs are not permitted",
        ),
        ('rejected = "Отклонено"', "", "status_names: missing statuses: rejected"),
        (
            'help_url = "https://www.gosuslugi.ru/help"',
            'help_url = "gosuslugi"',
            "meta.help_url: String should match pattern '^https?://\\S+$'",
        ),
    ],
)
def test_template_mistakes(tmp_path: Path, old: str, new: str, problem: str) -> None:
    assert problems(shipped_copy(tmp_path, old, new)) == [f"ru.toml: {problem}"]


def test_missing_event_tables(tmp_path: Path) -> None:
    shipped_copy(tmp_path, "[reply]", "[reply_]")
    path = tmp_path / "ru.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("[status.rejected]")], encoding="utf-8")
    assert problems(tmp_path) == [
        "ru.toml: reply: Field required",
        "ru.toml: status: missing statuses: rejected",
        "ru.toml: reply_: Extra inputs are not permitted",
    ]


def test_unknown_status_name(tmp_path: Path) -> None:
    directory = shipped_copy(
        tmp_path, 'rejected = "Отклонено"', 'rejected = "Отклонено"\nclosed = "Закрыто"'
    )
    assert problems(directory) == [
        "ru.toml: status_names.closed.[key]: Input should be 'accepted', 'in_progress', "
        "'under_review', 'awaiting_citizen', 'resolved' or 'rejected'"
    ]


def test_every_event_needs_a_default(tmp_path: Path) -> None:
    directory = shipped_copy(
        tmp_path,
        '[added_to_request]\nsubject = "Сообщение добавлено к обращению"\ndefault',
        "[added_to_request]\nchat",
    )
    assert problems(directory) == [
        "ru.toml: added_to_request.default: Field required",
        "ru.toml: added_to_request.chat: Extra inputs are not permitted",
    ]


def test_help_url_must_be_a_link(tmp_path: Path) -> None:
    directory = shipped_copy(tmp_path, 'help_url = "https://', 'help_url = "gosuslugi ')
    (problem,) = problems(directory)
    assert problem.startswith("ru.toml: meta.help_url: String should match pattern")


def test_toml_syntax_error(tmp_path: Path) -> None:
    directory = shipped_copy(tmp_path, 'name = "Русский"', 'name = "Русский"\nname = "Дубль"')
    (problem,) = problems(directory)
    assert problem.startswith("ru.toml: -: not valid TOML: Cannot overwrite a value")


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    shipped_copy(
        tmp_path,
        'sms = "Request No. {ticket} resolved.[[ {comment}]] {help_url}"',
        'sms = "{comment}"',
        "en",
    )
    path = tmp_path / "ru.toml"
    path.write_text(
        path.read_text(encoding="utf-8")
        .replace('sms = "Сообщение добавлено к обращению №{ticket}."', 'sms = "{text}"')
        .replace(
            'sms = "Обращение №{ticket} отклонено. Причина: {reason} {help_url}"', 'sms = "x"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(TemplateError) as info:
        Templates.load(tmp_path)
    en, ru = tmp_path / "en.toml", tmp_path / "ru.toml"
    assert str(info.value).splitlines() == [
        f"{en}: status.resolved.sms: {{comment}} may be empty: put it inside [[ ]]",
        f"{ru}: added_to_request.sms: {{text}} not available here "
        "(use {help_url}, {not_accepted}, {ticket})",
        f"{ru}: status.rejected.sms: must use {{help_url}}, {{reason}}, {{ticket}} outside [[ ]]",
    ]
