"""A Telegram Bot API test double: the HTTP contract PTB speaks, and a control API for tests.

`python -m tests.peers.telegram` serves it (tests/telegram.py starts it and wraps the control
API); world.py holds the rules, app.py the HTTP. Where it knowingly differs from the service:
- private chats only; methods it does not implement answer 404 Not Found, as unknown ones do;
- a photo's largest size is the bytes as sent (Telegram re-encodes it), the smaller ones are
  JPEG thumbnails at Telegram's sides;
- webhooks may be plain HTTP on any loopback port; a refused update is retried after 50 ms
  doubling up to 1 s, for as long as it takes; a method in the webhook's answer is not run;
- text length is counted in code points after entity parsing; legacy Markdown is refused;
- a local server's getFile paths are in a temporary directory and are not served over HTTP;
- flood control is a sliding one-second window with 50 ms of slack for arrival jitter: the
  published limits, not Telegram's unpublished burst allowance.
"""
