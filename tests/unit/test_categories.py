"""categories.toml: the shipped catalogue, its validation, and classification."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from router.ticketing.catalogue import Catalogue, Classification, Span, load_catalogue

CATALOGUE = load_catalogue(Path(__file__).parents[2] / "config" / "categories.toml")


def catalogue(**changes: Any) -> dict[str, Any]:
    """A small valid catalogue as parsed TOML, with top-level tables replaced by `changes`."""
    data: dict[str, Any] = {
        "priorities": {"standard": {"first_response": "2h", "resolution": "24h"}},
        "categories": {
            "01": {"name": "Справки", "name_en": "Certificates", "priority": "standard"},
        },
        "unclassified": {"name": "Без категории", "name_en": "None", "priority": "standard"},
    }
    return data | changes


def reasons(data: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as info:
        Catalogue.from_data(data)
    return [(error["loc"], error["msg"]) for error in info.value.errors()]


# The shipped catalogue (DOMAIN.md "Categories and subject codes", "Priority classes and SLA").


def test_shipped_codes_and_priorities() -> None:
    priorities = {code: rule.priority for code, rule in CATALOGUE.categories.items()}
    assert priorities == {
        "01": "standard",
        "02": "standard",
        "03": "standard",
        "04": "standard",
        "05": "standard",
        "06": "standard",
        "07": "standard",
        "08": "complaint",
        "10": "urgent",
        "11": "technical",
        "12": "urgent",
    }
    assert CATALOGUE.unclassified.priority == "standard"


def test_shipped_priority_classes() -> None:
    assert {
        name: (str(p.first_response), str(p.resolution)) for name, p in CATALOGUE.priorities.items()
    } == {
        "urgent": ("30m", "4h"),
        "technical": ("1h", "48h"),
        "standard": ("2h", "24h"),
        "complaint": ("24h", "10wd"),
    }
    assert CATALOGUE.priorities["complaint"].resolution == Span(10, "wd")


def test_shipped_names() -> None:
    assert CATALOGUE.categories["01"].name == "Справки и выписки"
    assert CATALOGUE.categories["02"].name == "Подача заявления"
    assert CATALOGUE.category_name("12", "ru") == "Сообщение о мошенничестве"
    assert CATALOGUE.category_name("12", "en") == "Report of fraud"
    assert CATALOGUE.category_name("10", "tt") == "Доступ к личному кабинету"
    assert CATALOGUE.category_name("unclassified", "en") == "Unclassified"
    for rule in CATALOGUE.categories.values():
        assert rule.keywords, rule.name


# Rule (a): the web chat topic.


def test_topic_wins_over_subject_code_and_keywords() -> None:
    assert CATALOGUE.classify("[01] Справка", "Не могу войти", topic="04") == Classification(
        "04", "Льготы, пособия, компенсации", "standard", ()
    )


def test_unknown_topic_is_flagged_and_falls_through() -> None:
    result = CATALOGUE.classify(None, "Не могу войти в личный кабинет", topic="99")
    assert (result.code, result.priority, result.flags) == ("10", "urgent", ("unknown_code",))


def test_unknown_topic_then_a_known_subject_code_is_not_flagged() -> None:
    # unknown_code says no code classified the message; here the subject code did.
    assert CATALOGUE.classify("Код 01", "", topic="99") == Classification(
        "01", "Справки и выписки", "standard", ()
    )
    assert CATALOGUE.classify(None, "#12 мне звонят", topic="99").flags == ()


def test_unknown_topic_and_unknown_subject_code_are_flagged_once() -> None:
    result = CATALOGUE.classify("Код 99", "Не могу войти в личный кабинет", topic="98")
    assert (result.code, result.flags) == ("10", ("unknown_code",))


# Rule (b): the subject code.


@pytest.mark.parametrize(
    "subject",
    [
        "01",
        "01 Справка",
        "01. справка",
        "01: справка",
        "01 - справка",
        "01) справка",
        "  01 Справка",
        "[01]",
        "[01] справка",
        "[ 01 ]справка",
        "[01]2 шт",
        "Код 01",
        "код 01 справка",
        "КОД 01",
        "Код:01 справка",
        "Код: 01",
        "Код-01",
        "Код — 01",
        "#01",
        "# 01 справка",
        "#01: справка",
    ],
)
def test_subject_code_forms(subject: str) -> None:
    # The text points elsewhere so that only the code can give 01.
    result = CATALOGUE.classify(subject, "Не могу войти в личный кабинет")
    assert (result.code, result.flags) == ("01", ())


@pytest.mark.parametrize(
    "subject",
    [
        "Код 01: 89161234567",
        "Код 01 2600000128",
        "Код:01 2600000128 справка",
        "КОД 01 — 2600000128",
        "Код 01:89161234567",  # a label's colon, not a time: «Код» said a code comes
        "#01 89161234567 справка",
        "# 01 2600000128",
        "#01: 8 916 123-45-67",
        "#01, 2600000128",
        "#01 (2600000128)",
        "[01] 2600000128",
    ],
)
def test_prefixed_code_followed_by_a_number_is_a_code(subject: str) -> None:
    # After «Код» or «#» only digits that continue the code make it not one.
    result = CATALOGUE.classify(subject, "Не могу войти в личный кабинет")
    assert (result.code, result.flags) == ("01", ())


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Код 12: 89161234567 звонят от вашего имени", "12"),
        ("#10 89161234567 не приходит смс", "10"),
        ("Код 08 2600000128 никто не ответил", "08"),
        ("[08] 2600000128 никто не ответил", "08"),
        ("#12 +79161234567 звонят от вашего имени", "12"),
    ],
)
def test_sms_with_a_code_and_a_number(text: str, code: str) -> None:
    assert CATALOGUE.classify(None, text).code == code
    assert CATALOGUE.classify(text, "").code == code


@pytest.mark.parametrize(
    "subject",
    [
        "01.02.2026 не могу войти",  # a date
        "01/02 не могу войти",
        "12 34 56 не могу войти",  # digits after the code
        "12 дней не могу войти",  # a number, not a code
        "2600000128 не могу войти",  # a ticket number
        "+7 495 777-77-77 не могу войти",
        "001 не могу войти",
        "#012 не могу войти",
        "Код 01.02 не могу войти",
        "№01 не могу войти",  # № marks ticket numbers
        "1 не могу войти",
        "Не могу войти, код 01",  # not at the start
        "Кодекс 01 не могу войти",
        "Код 01/2 не могу войти",  # digits that continue the code
        "Код 01-02 не могу войти",
        "Код 01,5 не могу войти",
        "#01.02.2026 не могу войти",
        "# 2600000128 не могу войти",  # a ticket number after "#"
        "#89161234567 не могу войти",
        # A bare number followed by another number is a date, an amount or a time.
        "01 2024 года не могу войти",
        "01 2600000128 не могу войти",
        "12: 89161234567 не могу войти",
        "01. 02. 2026 не могу войти",
        "10 000 рублей не могу войти",
    ],
)
def test_not_a_subject_code(subject: str) -> None:
    result = CATALOGUE.classify(subject, "")
    assert (result.code, result.flags) == ("10", ())


def test_sms_has_its_code_at_the_start_of_the_text() -> None:
    assert CATALOGUE.classify(None, "12 Мне звонят от имени портала").code == "12"
    assert CATALOGUE.classify("  ", "#11 портал").code == "11"


def test_code_in_text_does_not_count_when_there_is_a_subject() -> None:
    assert CATALOGUE.classify("Вопрос", "01 Справка о несудимости").code == "01"  # keywords
    assert CATALOGUE.classify("Вопрос", "01").code == "unclassified"


def test_unknown_code_is_flagged_and_keywords_decide() -> None:
    result = CATALOGUE.classify("[09] Справка о несудимости", "")
    assert (result.code, result.flags) == ("01", ("unknown_code",))
    result = CATALOGUE.classify("Код 99", "Здравствуйте")
    assert result == Classification("unclassified", "Без категории", "standard", ("unknown_code",))


# Rule (c): keywords.


@pytest.mark.parametrize(
    ("subject", "text", "code"),
    [
        ("Справка о несудимости", "", "01"),
        (None, "Не получается подать заявление на сайте", "02"),
        (None, "Хочу оформить загранпаспорт", "03"),
        (None, "Когда придёт пособие на ребёнка?", "04"),
        (None, "Изменились паспортные данные, как обновить?", "05"),
        (None, "Как получить разрешение на строительство", "06"),
        (None, "Какой статус у моего заявления?", "07"),
        ("Жалоба на сотрудника МФЦ", "", "08"),
        (None, "Не могу войти, учётная запись заблокирована", "10"),
        (None, "Страница зависает, ошибка 500", "11"),
        (None, "Мне позвонили мошенники и спросили пароль", "12"),
    ],
)
def test_keywords_of_the_shipped_catalogue(subject: str | None, text: str, code: str) -> None:
    assert CATALOGUE.classify(subject, text) == Classification(
        code,
        CATALOGUE.categories[code].name,
        CATALOGUE.categories[code].priority,
        (),
    )


def test_keywords_match_at_word_start_only() -> None:
    # "вход" (10) must not fire inside «выход»; «доход» is not "ход".
    assert CATALOGUE.classify(None, "Нашёл выход из ситуации").code == "unclassified"


def test_keywords_ignore_case_and_yo() -> None:
    assert CATALOGUE.classify("УЧЁТНАЯ ЗАПИСЬ", "").code == "10"


def test_keywords_are_counted_in_subject_and_text() -> None:
    inline = Catalogue.model_validate(
        catalogue(
            categories={
                "01": {"name": "А", "name_en": "A", "priority": "standard", "keywords": ["аа"]},
                "02": {
                    "name": "Б",
                    "name_en": "B",
                    "priority": "standard",
                    "keywords": ["бб", "вв"],
                },
            }
        )
    )
    assert inline.classify("аа", "бб").code == "01"  # tie: lowest code
    assert inline.classify("бб", "аа").code == "01"  # the order of the words does not matter
    assert inline.classify("аа бб", "вв").code == "02"  # most distinct keywords
    assert inline.classify(None, "аа аа аа бб вв").code == "02"  # repeats count once


def test_nothing_matched_is_unclassified() -> None:
    assert CATALOGUE.classify("Здравствуйте", "Добрый день") == Classification(
        "unclassified", "Без категории", "standard", ()
    )


# Validation of categories.toml.


def test_unknown_priority_of_a_category() -> None:
    data = catalogue(
        categories={"01": {"name": "А", "name_en": "A", "priority": "urgnt"}},
    )
    assert reasons(data) == [
        (("categories", "01", "priority"), "unknown priority 'urgnt' (known: standard)")
    ]


def test_unknown_priority_of_the_fallback() -> None:
    data = catalogue(unclassified={"name": "Б", "name_en": "B", "priority": "low"})
    assert reasons(data) == [
        (("unclassified", "priority"), "unknown priority 'low' (known: standard)")
    ]


@pytest.mark.parametrize("code", ["1", "001", "ab", "٠١"])
def test_codes_are_two_digits(code: str) -> None:
    data = catalogue(categories={code: {"name": "А", "name_en": "A", "priority": "standard"}})
    assert reasons(data) == [
        (("categories", code, "[key]"), f"category code {code!r} must be two digits, e.g. 01")
    ]


@pytest.mark.parametrize(
    ("keyword", "reason"),
    [("Справк", "keyword 'Справк' must be lower-case"), (" ", "a keyword must not be empty")],
)
def test_keywords_are_lower_case_and_not_empty(keyword: str, reason: str) -> None:
    rule = {"name": "А", "name_en": "A", "priority": "standard", "keywords": ["ok", keyword]}
    assert reasons(catalogue(categories={"01": rule})) == [
        (("categories", "01", "keywords"), reason)
    ]


def test_fallback_takes_no_keywords() -> None:
    rule = {"name": "Б", "name_en": "B", "priority": "standard", "keywords": ["x"]}
    assert reasons(catalogue(unclassified=rule)) == [
        (("unclassified",), "the fallback category takes no keywords")
    ]


def test_unknown_keys_and_bad_durations_are_errors() -> None:
    data = catalogue(
        priorities={"standard": {"first_response": "2 hours", "resolution": "24h", "x": 1}},
        colour="red",
    )
    assert reasons(data) == [
        (
            ("priorities", "standard", "first_response"),
            "expected a number followed by s, m, h, d or wd, e.g. 30m",
        ),
        (("priorities", "standard", "x"), "Extra inputs are not permitted"),
        (("colour",), "Extra inputs are not permitted"),
    ]


def test_missing_tables_are_errors() -> None:
    assert reasons({"priorities": {}}) == [
        (("categories",), "Field required"),
        (("unclassified",), "Field required"),
    ]


def test_load_catalogue_reads_toml(tmp_path: Path) -> None:
    path = tmp_path / "categories.toml"
    path.write_text(
        """
[priorities.standard]
first_response = "2h"
resolution = "24h"

[categories.01]
name = "Справки"
name_en = "Certificates"
priority = "standard"
keywords = ["справк"]

[unclassified]
name = "Без категории"
name_en = "Unclassified"
priority = "standard"
""",
        encoding="utf-8",
    )
    assert load_catalogue(path).classify("Нужна справка", "").code == "01"
    path.write_text('[categories.1]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ValidationError):
        load_catalogue(path)
