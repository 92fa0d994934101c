"""Structured JSON logs on stderr (journald keeps them), with personal data masked."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from normaliser.identifiers import TICKET_LENGTH
from normaliser.masking import mask_personal_data


def innermost(error: BaseException) -> BaseException:
    """The error worth naming: the first one inside the exception groups trio wraps it in."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


# Attributes every LogRecord has; anything else was passed in `extra=` and is logged as a field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line; message and extra fields pass through the personal-data mask."""

    # Digits of a ticket number ([tickets]): those stay readable in the log.
    ticket_length = TICKET_LENGTH

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self._mask(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = self._mask(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = self._mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)

    def _mask(self, text: str) -> str:
        return mask_personal_data(text, self.ticket_length)


def use_ticket_length(length: int) -> None:
    """Ticket numbers have `length` digits now (the configuration was loaded or reloaded)."""
    JsonFormatter.ticket_length = length


def configure(level: str = "INFO") -> None:
    """Send every log record to stderr as masked JSON."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter()
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Hypercorn's access log would write client addresses and paths with tokens in queries.
    logging.getLogger("hypercorn.access").disabled = True
    # httpx logs every request at INFO: noise in the CLI, and webhook URLs may carry secrets.
    logging.getLogger("httpx").setLevel(logging.WARNING)
