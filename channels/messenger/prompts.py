"""The bot's own words around the router's notices (its keyboards' prompts), by language.

They label buttons rather than answer a request, so they live with the keyboards they label;
every answer to a citizen comes from templates/."""

from __future__ import annotations

from typing import Literal

Prompt = Literal["choose_topic", "topic_chosen", "share_phone", "share_phone_button"]

PROMPTS: dict[str, dict[Prompt, str]] = {
    "ru": {
        "choose_topic": "Выберите тему обращения или просто напишите свой вопрос:",
        "topic_chosen": "Тема: {topic}. Теперь напишите свой вопрос.",
        "share_phone": "Поделитесь номером телефона, чтобы ваши обращения из SMS и с портала "
        "были видны здесь.",
        "share_phone_button": "Поделиться номером",
    },
    "en": {
        "choose_topic": "Choose the topic of your request, or just write your question:",
        "topic_chosen": "Topic: {topic}. Now write your question.",
        "share_phone": "Share your phone number so that your requests from SMS and the portal "
        "show here too.",
        "share_phone_button": "Share my number",
    },
}


def text(prompt: Prompt, language: str | None) -> str:
    """The prompt in the citizen's language (by their app's language_code), else Russian."""
    chosen = (language or "ru").split("-")[0].lower()
    return PROMPTS.get(chosen, PROMPTS["ru"])[prompt]
