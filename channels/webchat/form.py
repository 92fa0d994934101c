"""The portal's feedback form: one POST files one request (DOMAIN.md "Feedback form")."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
import trio
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from channels.contract import (
    AccountSpec,
    AttachmentRefused,
    Channel,
    Deliver,
    Lane,
    Ports,
    RawInbound,
    Sender,
    rfc3339,
)
from channels.emails import canonical_email
from channels.http import (
    JSON_BODY_MAX,
    MULTIPART_OVERHEAD,
    address_key,
    answer,
    limit_body,
    problem,
    read_form,
    receive_upload,
)
from channels.phones import HOME_REGION, canonical_phone

from .config import WebchatSettings
from .limits import ClientLimits
from .refusals import REFUSALS, has_visible_text, refused_file, too_many

log = logging.getLogger(__name__)


class FormFiled(msgspec.Struct, frozen=True):
    """A submission stored and filed as a new ticket."""

    ticket: Annotated[
        str | None,
        msgspec.Meta(
            description="The new ticket's number; null (with envelope_id null) only if filing "
            "failed and the submission was kept as dead letter intake:ID"
        ),
    ]
    envelope_id: str | None


class FormInvalid(msgspec.Struct, frozen=True):
    """A submission whose fields are refused, each with what is wrong with it."""

    error: Literal["invalid"]
    message: str
    fields: Annotated[
        dict[str, str],
        msgspec.Meta(description="A message per field name (text, name, email, phone, type)"),
    ]


class FeedbackForm:
    """The form's account: it takes submissions; answers go out by email or SMS."""

    channel: Channel = "form"
    deliver: Deliver | None = None
    websocket_max_message = 0
    lane = Lane()

    def __init__(self, spec: AccountSpec, settings: Callable[[], WebchatSettings], ports: Ports):
        self.account = spec.account
        self.settings = settings
        self.ports = ports
        self.limits = ClientLimits(
            ("form",),
            lambda: settings().rate_limits,
            lambda reason: ports.bad_input("form", reason),
        )
        self._stopping = False

    def routes(self) -> Sequence[BaseRoute]:
        """The form's one endpoint."""
        return [Route("/api/v1/forms/feedback", self._submit, methods=["POST"])]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Up while the listener serves the endpoint."""
        task_status.started()
        await trio.sleep_forever()

    def stop_intake(self) -> None:
        """Refuse new submissions (503: send again later)."""
        self._stopping = True

    def detail(self) -> dict[str, object]:
        """Nothing to add to the status."""
        return {}

    async def _submit(self, request: Request) -> Response:
        """POST /api/v1/forms/feedback: one submission, filed as a request of its own."""
        settings = self.settings()
        if self._stopping:
            return problem(503, "unavailable", "the daemon is stopping; send it again later")
        address = address_key(request.client.host if request.client else "")
        if wait := self.limits.over("form", address):
            return too_many(wait)
        multipart = request.headers.get("content-type", "").startswith("multipart/")
        limit = (
            self.ports.attachments.limits("form").message + MULTIPART_OVERHEAD
            if multipart
            else (JSON_BODY_MAX)
        )
        if (refused := limit_body(request, limit)) is not None:
            self.ports.bad_input("form", refused.code)
            return refused.response
        allowed = min(settings.form.max_files, self.ports.attachments.limits("form").count)
        try:
            # One part more than allowed is read so that too many files is said as such.
            fields, files = await _form_fields(request, allowed + 1)
        except ValueError as exc:
            self.ports.bad_input("form", "unreadable")
            return problem(400, "unreadable", str(exc))
        errors = _check_form(fields, settings)
        if errors or len(files) > allowed:
            for file in files:  # nothing is stored for a submission that is refused whole
                await file.close()
        if errors:
            self.ports.bad_input("form", "invalid")
            return answer(FormInvalid("invalid", "Проверьте поля формы.", errors), 422)
        if len(files) > allowed:
            self.ports.bad_input("form", "too_many_attachments")
            return problem(413, "too_many_attachments", REFUSALS["too_many_attachments"])
        try:
            attachments = self.ports.attachments
            receipts = [await receive_upload(f, attachments, "form", None) for f in files]
            attachment_ids = [receipt.id for receipt in receipts]
            digests = [receipt.sha256 for receipt in receipts]
            await self.ports.attachments.check_message(attachment_ids, channel="form", owner=None)
        except AttachmentRefused as exc:
            self.ports.bad_input("form", exc.code)
            return refused_file(exc.code, exc.reason)
        finally:
            for file in files:
                await file.close()
        form = settings.form
        # _check_form let through no phone but a valid one: the citizen's identity, in E.164.
        email = fields.get("email", "")
        phone = canonical_phone(fields.get("phone", ""), HOME_REGION) or ""
        name = fields.get("name") or None
        declared = [Sender("email", email, name), Sender("phone", phone, name)]
        sender = next(s for s in declared if s.address)
        # The same submission (fields and file contents) sent again is a redelivery. A caller's
        # Idempotency-Key only scopes that: with someone else's key but other content, it is a
        # request of its own, so a guessed key reveals nobody's ticket.
        key = hashlib.sha256(
            "\x1f".join(
                [
                    request.headers.get("Idempotency-Key", ""),
                    *(fields.get(k, "") for k in ("name", "phone", "email", "type", "text")),
                    *sorted(digests),
                ]
            ).encode()
        ).hexdigest()
        raw = RawInbound(
            channel="form",
            account=self.account,
            idempotency_key=key,
            channel_message_id=key,
            sender=sender,
            text=fields["text"],
            received_at=rfc3339(datetime.now(UTC)),
            topic=form.types.get(fields.get("type", "")) or None,
            declared=[s for s in declared if s.address],
            attachment_ids=attachment_ids,
        )
        try:
            acceptance = await self.ports.intake.accept(raw)
        except Exception:
            log.exception("a feedback form could not be persisted")
            return problem(503, "unavailable", "the request was not stored; send it again later")
        return answer(FormFiled(acceptance.ticket_number, acceptance.envelope_id), 201)


async def _form_fields(request: Request, max_files: int) -> tuple[dict[str, str], list[UploadFile]]:
    """The form's text fields and files from JSON, urlencoded or multipart bodies."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body: Any = msgspec.json.decode(await request.body())
        except (msgspec.DecodeError, RecursionError) as exc:
            raise ValueError(f"the body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return {k: v.strip() for k, v in body.items() if isinstance(v, str)}, []
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        try:
            form = await read_form(request, max_files=max_files, max_fields=20)
        except Exception as exc:  # python-multipart raises several types for a broken body
            raise ValueError(f"unreadable form: {exc}") from exc
        fields = {k: v.strip() for k, v in form.multi_items() if isinstance(v, str)}
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        return fields, files
    raise ValueError("send application/json, multipart/form-data or urlencoded fields")


def _check_form(fields: dict[str, str], settings: WebchatSettings) -> dict[str, str]:
    """Field errors of a feedback form, by field name."""
    errors = {}
    text = fields.get("text", "")
    if not has_visible_text(text):  # zero-width and control characters alone say nothing
        errors["text"] = "Опишите вопрос."
    elif len(text) > settings.max_text_chars:
        errors["text"] = f"Не длиннее {settings.max_text_chars} символов."
    if len(fields.get("name", "")) > settings.form.max_name_chars:
        errors["name"] = f"Не длиннее {settings.form.max_name_chars} символов."
    for field in ("name", "email", "phone"):
        # A right-to-left override or a zero-width joiner in a name or an address shows
        # operators something other than what is stored (CVE-2021-42574, "Trojan Source").
        if any(unicodedata.category(c) in ("Cc", "Cf") for c in fields.get(field, "")):
            errors[field] = "Уберите невидимые и управляющие символы."
    email, phone = fields.get("email", ""), fields.get("phone", "")
    if not email and not phone:
        errors["email"] = "Укажите электронную почту или телефон для ответа."
    if email and canonical_email(email) is None:
        errors["email"] = "Адрес почты выглядит неверно."
    if phone and canonical_phone(phone, HOME_REGION) is None:
        errors["phone"] = "Номер телефона выглядит неверно."
    kind = fields.get("type", "")
    if kind and kind not in settings.form.types:
        errors["type"] = "Неизвестный тип обращения: " + ", ".join(settings.form.types)
    return errors
