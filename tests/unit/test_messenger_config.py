"""channels/messenger.toml as check-config reads it: the keys CONTRACTS.md fixes, with their
defaults, and a clear error for a webhook without its URL or secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from channels.messenger import PLUGIN
from channels.messenger.config import CLOUD_DOWNLOAD_LIMIT, MessengerFile


def test_the_defaults_are_telegrams_published_limits_and_polling() -> None:
    file = MessengerFile.model_validate(
        {"enabled": True, "accounts": {"support": {"token_file": "secrets/telegram.token"}}}
    )
    bot = file.accounts["support"]
    assert (bot.kind, bot.api_url, bot.mode) == ("telegram", "https://api.telegram.org", "polling")
    assert (bot.per_chat_rate, bot.global_rate) == (1.0, 30.0)
    assert bot.download_limit == CLOUD_DOWNLOAD_LIMIT
    assert [spec.account for spec in PLUGIN.accounts(file)] == ["support"]
    assert PLUGIN.accounts(file.model_copy(update={"enabled": False})) == []


def test_a_local_server_lifts_the_download_limit() -> None:
    bot = {"token_file": "t", "api_url": "http://127.0.0.1:8081", "local_server": True}
    file = MessengerFile.model_validate({"accounts": {"support": bot}})
    assert file.accounts["support"].download_limit is None


@pytest.mark.parametrize(
    ("account", "error"),
    [
        ({"token_file": "t", "mode": "webhook"}, "needs webhook_url and webhook_secret_file"),
        ({"token_file": "t", "kind": "vk"}, "'telegram'"),
        ({"token_file": "t", "per_chat_rate": 0}, "greater than 0"),
        ({"token_file": "t", "token": "123:abc"}, "Extra inputs are not permitted"),
        ({}, "Field required"),
    ],
)
def test_a_wrong_account_is_refused_with_the_reason(account: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        MessengerFile.model_validate({"accounts": {"support": account}})
