"""Prometheus metrics of the daemon, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

registry = CollectorRegistry(auto_describe=True)

received = Counter(
    "omnirouter_inbound_received", "Inbound messages persisted", ["channel"], registry=registry
)
redeliveries = Counter(
    "omnirouter_inbound_redeliveries",
    "Inbound messages dropped as redeliveries of one already journalled",
    ["channel"],
    registry=registry,
)
changed_content = Counter(
    "omnirouter_inbound_changed_content",
    "Keys received again with other content: an edit (revision, filed) or a conflict (the "
    "first kept under the key, the second a dead letter)",
    ["channel", "kind"],
    registry=registry,
)
repeats = Counter(
    "omnirouter_inbound_repeats",
    "Inbound messages joined to an open ticket as near-identical repeats",
    ["channel"],
    registry=registry,
)
filing_failures = Counter(
    "omnirouter_inbound_filing_failures",
    "Journalled inbound messages that could not be filed (kept, see dlq list)",
    ["channel"],
    registry=registry,
)
api_errors = Counter(
    "omnirouter_api_errors",
    "HTTP API requests answered with an error (bad input, auth, unknown, internal)",
    ["status", "reason"],
    registry=registry,
)
answers_withheld = Counter(
    "omnirouter_answers_withheld",
    "Inbound messages given no automatic answer: their contact had [notifier] auto_limit "
    "automatic messages within auto_window",
    ["channel"],
    registry=registry,
)
bad_input = Counter(
    "omnirouter_bad_input",
    "Malformed input answered with an error and counted",
    ["channel", "reason"],
    registry=registry,
)
tickets_opened = Counter(
    "omnirouter_tickets_opened", "Tickets opened", ["category"], registry=registry
)
handed_off = Counter(
    "omnirouter_handoff",
    "Envelopes handed off to the ticketing backend",
    ["mode", "result"],
    registry=registry,
)
notification_attempts = Counter(
    "omnirouter_notification_attempts",
    "Outbound delivery attempts by channel and result",
    ["channel", "result"],
    registry=registry,
)
transitions_refused = Counter(
    "omnirouter_notification_transitions_refused",
    "Delivery events the notification state machine does not allow from the state they found",
    ["state", "event"],
    registry=registry,
)
notifications = Gauge(
    "omnirouter_notifications", "Notifications by delivery state", ["state"], registry=registry
)
queue_depth = Gauge(
    "omnirouter_queue_depth", "Items waiting in each durable queue", ["queue"], registry=registry
)
oldest_undelivered = Gauge(
    "omnirouter_oldest_undelivered_seconds",
    "Age of the oldest handoff or notification not yet delivered",
    registry=registry,
)
stage_seconds = Histogram(
    "omnirouter_stage_seconds",
    "Time spent in each pipeline stage",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=registry,
)
channel_up = Gauge(
    "omnirouter_channel_up",
    "1 when a channel account runs",
    ["channel", "account"],
    registry=registry,
)
channel_state = Gauge(
    "omnirouter_channel_state",
    "1 for the state a channel account is in: starting, up, backoff, stopped",
    ["channel", "account", "state"],
    registry=registry,
)
reports_unmatched = Counter(
    "omnirouter_reports_unmatched",
    "Receipts and bounces that named no notice of ours when they came (a receipt before its "
    "submit's answer is held, and applied once the answer names it)",
    ["channel"],
    registry=registry,
)
channel_detail = Gauge(
    "omnirouter_channel_detail",
    "What a channel account counts of itself, read when scraped: the chat's connections, the "
    "SMS binds up",
    ["channel", "account", "figure"],
    registry=registry,
)
channel_restarts = Counter(
    "omnirouter_channel_restarts",
    "Channel accounts restarted by the supervisor after a failure",
    ["channel", "account"],
    registry=registry,
)
attachments_refused = Counter(
    "omnirouter_attachments_refused",
    "Attachments refused over a limit or with the disk short of room (nothing kept; the peer "
    "was told)",
    ["channel", "reason"],
    registry=registry,
)
scanned = Counter(
    "omnirouter_attachments_scanned", "Files checked, by result", ["result"], registry=registry
)
scanned_bytes = Counter(
    "omnirouter_attachments_scanned_bytes",
    "Bytes scanned by clamd, by result",
    ["result"],
    registry=registry,
)
scan_seconds = Histogram(
    "omnirouter_attachment_scan_seconds",
    "clamd INSTREAM scan time per file",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=registry,
)
clamd_up = Gauge(
    "omnirouter_clamd_up", "1 when the last clamd exchange succeeded", registry=registry
)
quarantine_files = Gauge(
    "omnirouter_quarantine_files", "Files kept in quarantine", registry=registry
)
quarantine_bytes = Gauge(
    "omnirouter_quarantine_bytes", "Bytes kept in quarantine", registry=registry
)
commit_group = Histogram(
    "omnirouter_db_commit_group_jobs",
    "Jobs committed together by the database writer (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=registry,
)
config_reloads = Counter(
    "omnirouter_config_reloads", "Configuration reloads by result", ["result"], registry=registry
)
http_connections = Gauge(
    "omnirouter_http_connections", "Open connections on the HTTP listener", registry=registry
)
http_connections_refused = Counter(
    "omnirouter_http_connections_refused",
    "Connections answered 429/503 and closed at once: max_connections(_per_ip)",
    ["reason"],
    registry=registry,
)
http_connections_cut = Counter(
    "omnirouter_http_connections_cut",
    "Connections the server closed: a peer that stopped reading (send_timeout), or one that "
    "sent a WebSocket message over max_frame_bytes (message_too_big)",
    ["reason"],
    registry=registry,
)
http_connection_errors = Counter(
    "omnirouter_http_connection_errors",
    "Connections ended by an error inside the HTTP server; the listener went on",
    ["error"],
    registry=registry,
)
