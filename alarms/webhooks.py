"""Signed webhook requests: the signature receivers verify, and one POST with timeouts and no redirects.

A receiver verifies a notification by recomputing the signature over the timestamp header and the raw
body with its secret (README, "Notifications"):

    expected = "sha256=" + hex(HMAC-SHA256(secret, X-ESP-Timestamp + "." + body))

and comparing it with ``X-ESP-Signature`` in constant time; it refuses a timestamp more than
``REPLAY_WINDOW_SECONDS`` from its own clock, and uses ``X-ESP-Delivery`` to drop a delivery it has
already handled (a retry after a lost answer sends the same delivery again).
"""

import hashlib
import hmac
import http.client
import urllib.parse

SIGNATURE_HEADER = "X-ESP-Signature"
TIMESTAMP_HEADER = "X-ESP-Timestamp"
DELIVERY_HEADER = "X-ESP-Delivery"
EVENT_HEADER = "X-ESP-Event"
# How far a receiver should accept X-ESP-Timestamp from its own clock, either way, seconds: wide enough
# for clock drift between hosts, narrow enough that a captured request cannot be replayed for long.
REPLAY_WINDOW_SECONDS = 300
# Of a receiver's answer, only this much is read (and kept in the delivery log on failure).
ANSWER_BYTES_KEPT = 500


def signature(secret, timestamp, body):
    """The ``X-ESP-Signature`` value of ``body`` (bytes) sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def post(url, body, headers, *, timeout):
    """POSTs ``body`` to ``url`` (http or https; certificates verified). ``timeout`` (s) bounds the
    connection and each read of the answer. Redirects are not followed: a receiver that moved answers
    3xx, which counts as a failure. Returns (HTTP status, the start of the answer's body as text); raises
    OSError (refused, reset, timed out, TLS) or http.client.HTTPException (not HTTP)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout)
    elif parts.scheme == "http":
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    else:
        raise ValueError(f"webhook URLs are http or https, not {parts.scheme!r}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read(ANSWER_BYTES_KEPT).decode("utf-8", "replace")
    finally:
        connection.close()
