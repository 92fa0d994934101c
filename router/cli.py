"""The `omnirouter` command: run, check-config, status, dlq, ticket."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from normaliser.masking import mask_personal_data
from router.config import ConfigError, Settings, load_settings
from router.ops import logs

DEFAULT_CONFIG = "/etc/omnirouter"


def _config_dir(args: argparse.Namespace) -> Path:
    return Path(args.config or os.environ.get("OMNIROUTER_CONFIG") or DEFAULT_CONFIG)


def build_parser() -> argparse.ArgumentParser:
    """The command line: commands, their options, and --config anywhere."""
    parser = argparse.ArgumentParser(
        prog="omnirouter",
        description="Routes citizens' messages from every channel to the ticketing backend.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the daemon in the foreground (systemd Type=notify)")
    commands.add_parser(
        "check-config", help="validate the configuration; errors as FILE: KEY: REASON"
    )
    status = commands.add_parser("status", help="state of the running daemon")
    status.add_argument("--json", action="store_true", help="print the raw JSON")
    dlq = commands.add_parser("dlq", help="dead letters (handoff, notifications, intake)")
    dlq_commands = dlq.add_subparsers(dest="action", required=True)
    dlq_commands.add_parser("list", help="list dead letters")
    dlq_commands.add_parser("show", help="show one").add_argument("id")
    replay = dlq_commands.add_parser("replay", help="put one (or --all) back in its queue")
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?")
    target.add_argument("--all", action="store_true")
    dlq_commands.add_parser("drop", help="set one aside for good").add_argument("id")
    suppress = commands.add_parser(
        "suppress", help="addresses that get nothing from us on a channel"
    )
    suppress_commands = suppress.add_subparsers(dest="action", required=True)
    listed = suppress_commands.add_parser("list", help="the entries in force")
    listed.add_argument(
        "--unmask", action="store_true", help="show addresses in full (the read is logged)"
    )
    add = suppress_commands.add_parser("add", help="put an address on the list")
    add.add_argument("address")
    add.add_argument("--reason", required=True, help="bounced, stop_requested, bot_blocked, ...")
    add.add_argument("--until", help="RFC 3339 time the entry ends (default: until removed)")
    remove = suppress_commands.add_parser("remove", help="take an address off the list")
    remove.add_argument("address")
    for sub in (add, remove):
        sub.add_argument("--channel", choices=("email", "sms", "messenger", "webchat"))
    ticket = commands.add_parser("ticket", help="tickets")
    ticket_commands = ticket.add_subparsers(dest="action", required=True)
    show = ticket_commands.add_parser("show", help="a ticket with its thread")
    show.add_argument("number")
    show.add_argument(
        "--unmask",
        action="store_true",
        help="show personal data (the access is logged by the daemon)",
    )
    for sub in (*dlq_commands.choices.values(), *suppress_commands.choices.values(), show):
        sub.add_argument("--json", action="store_true", help="print the raw JSON")
    # --config goes before or after the command (`omnirouter run --config DIR` is the
    # documented form); a command's own copy must not reset what was given before it.
    for each in (
        parser,
        *commands.choices.values(),
        *dlq_commands.choices.values(),
        *suppress_commands.choices.values(),
        show,
    ):
        each.add_argument(
            "--config",
            metavar="DIR",
            default=None if each is parser else argparse.SUPPRESS,
            help=f"configuration directory (default $OMNIROUTER_CONFIG or {DEFAULT_CONFIG})",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    directory = _config_dir(args)
    if args.command == "check-config":
        return check_config(directory)
    logs.configure()
    if args.command == "run":
        from router.daemon import run  # the daemon's imports are not needed by the other commands

        return run(directory)
    try:
        settings = load_settings(directory)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        return _admin_command(args, _AdminClient(settings))
    except httpx.HTTPError as exc:
        print(
            f"omnirouter: cannot reach the daemon at {settings.router.http.listen}: {exc}",
            file=sys.stderr,
        )
        return 2


def check_config(directory: Path) -> int:
    """Print every configuration error as FILE: KEY: REASON; 0 if there are none."""
    try:
        load_settings(directory)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    print(f"{directory}: configuration is valid")
    return 0


class _AdminClient:
    """Calls the daemon's admin API with the first admin token."""

    def __init__(self, settings: Settings) -> None:
        self.base = f"http://{settings.router.http.listen}"
        self.token = sorted(settings.admin_tokens)[0]

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        response = httpx.request(
            method,
            self.base + path,
            params=params or None,
            json=body,
            timeout=30,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return response.status_code, response.json()


def _admin_command(args: argparse.Namespace, client: _AdminClient) -> int:
    if args.command == "status":
        code, body = client.call("GET", "/api/v1/admin/status")
        return _print(code, body, args.json, _format_status)
    if args.command == "ticket":
        params = {"unmask": "1"} if args.unmask else {}
        code, body = client.call("GET", f"/api/v1/admin/tickets/{args.number}", params)
        return _print(code, body, args.json, _format_ticket)
    if args.command == "suppress":
        return _suppress(args, client)
    if args.action == "list":
        code, body = client.call("GET", "/api/v1/admin/dlq")
        return _print(code, body, args.json, _format_dead_letters)
    if args.action == "show":
        code, body = client.call("GET", f"/api/v1/admin/dlq/{args.id}")
    elif args.action == "replay":
        path = "/api/v1/admin/dlq/replay" if args.all else f"/api/v1/admin/dlq/{args.id}/replay"
        code, body = client.call("POST", path)
    else:
        code, body = client.call("DELETE", f"/api/v1/admin/dlq/{args.id}")
    return _print(code, body, True, _format_dead_letters)


def _suppress(args: argparse.Namespace, client: _AdminClient) -> int:
    path = "/api/v1/admin/suppressions"
    if args.action == "list":
        code, body = client.call("GET", path)
        if code < 400 and not args.unmask:
            for entry in body["suppressions"]:
                entry["address"] = mask_personal_data(entry["address"])
        return _print(code, body, args.json, _format_suppressions)
    channel = {"channel": args.channel} if args.channel else {}
    if args.action == "add":
        until = {"until": args.until} if args.until else {}
        entry = {"address": args.address, "reason": args.reason, **channel, **until}
        code, body = client.call("POST", path, body=entry)
    else:
        code, body = client.call("DELETE", path, {"address": args.address, **channel})
    return _print(code, body, True, _format_suppressions)


def _format_suppressions(body: dict[str, Any]) -> str:
    entries = body["suppressions"]
    if not entries:
        return "no suppressed addresses"
    return "\n".join(
        f"{e['channel']:<9} {e['address']}  {e['reason']}  since {e['since']}"
        + (f" until {e['until']}" if e["until"] else "")
        for e in entries
    )


def _print(code: int, body: Any, raw: bool, formatter: Any) -> int:
    if code >= 400:
        print(f"omnirouter: {body.get('message', body)}", file=sys.stderr)
        return 1
    print(json.dumps(body, ensure_ascii=False, indent=2) if raw else formatter(body))
    return 0


# The supervisor's fields of an account's status line; the rest are the adapter's own.
_ACCOUNT_KEYS = frozenset({"state", "restarts", "last_error"})


def _format_status(body: dict[str, Any]) -> str:
    lines = [
        f"instance   {body['instance']} {body['version']} "
        f"({'ready' if body['ready'] else 'not ready'}, up {body['uptime_seconds']:.0f}s)",
        f"handoff    {body['handoff_mode']}",
    ]
    for name, channel in body["channels"].items():
        if "accounts" not in channel:
            lines.append(f"channel    {name}: {channel['state']}")
        for account, figures in channel.get("accounts", {}).items():
            line = f"channel    {name}/{account}: {figures['state']}"
            if figures["restarts"]:
                line += f", {figures['restarts']} restarts (last: {figures['last_error']})"
            # What the adapter counts of itself (the chat's connections, SMS binds).
            line += "".join(
                f", {value} {key}" for key, value in figures.items() if key not in _ACCOUNT_KEYS
            )
            lines.append(line)
    attachments = body["attachments"]
    lines.append(
        f"clamd      {attachments['clamd']}; quarantine {attachments['quarantine_files']} files, "
        f"{attachments['quarantine_bytes']} bytes"
    )
    lines.append("queues     " + ", ".join(f"{k} {v}" for k, v in body["queues"].items()))
    oldest = body["oldest_undelivered_seconds"]
    lines.append(f"oldest undelivered  {'-' if oldest is None else f'{oldest:.0f}s'}")
    return "\n".join(lines)


def _format_dead_letters(body: dict[str, Any]) -> str:
    letters = body.get("dead_letters", [body] if "id" in body else [])
    if not letters:
        return "no dead letters"
    return "\n".join(
        f"{d['id']:<40} {d.get('subject') or '-':<14} attempts {d.get('attempts', 0):<3} "
        f"{d.get('last_error') or ''}"
        for d in letters
    )


def _format_ticket(body: dict[str, Any]) -> str:
    lines = [
        f"№{body['number']}  {body['status']}  {body['category']['code']} "
        f"{body['category']['name']}  ({body['priority']})",
        f"channel {body['channel']}, opened {body['created_at']}, first response due "
        f"{body['first_response_due']}, resolution due {body['resolution_due']}",
    ]
    if body["related"]:
        lines.append("related " + ", ".join(body["related"]))
    for item in body["thread"]:
        lines.append(
            f"  {item['received_at']} {item['channel']} {item['sender']['address']}: "
            f"{item['text'][:200]}"
        )
    for event in body["events"]:
        said = " — ".join(event[k][:200] for k in ("comment", "reason", "text") if event.get(k))
        lines.append(f"  {event['at']} {event['kind']} {event.get('status') or ''} {said}".rstrip())
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
