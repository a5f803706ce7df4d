"""Real receivers for notification tests: an SMTP server (aiosmtpd) and a webhook receiver (http.server), each
on a free loopback port in a thread of the test process, plus addresses where nothing answers.

The webhook receiver checks what a real one would, written here from the README's recipe rather than with
the platform's own signing code, so a wrong signature cannot be mirrored by a wrong check.
"""

import email
import email.policy
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time

from aiosmtpd.controller import Controller

LOOPBACK = "127.0.0.1"
REPLAY_WINDOW_SECONDS = 300
# Upper bound on how long a hanging receiver holds a request: far past any client timeout in the tests,
# and released at once when the test ends.
HANG_AT_MOST_SECONDS = 60


def free_port():
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class RefusingPort:
    """A loopback port bound but not listening: connecting to it is refused, for as long as it is open."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind((LOOPBACK, 0))
        self.port = self.socket.getsockname()[1]

    def close(self):
        self.socket.close()


class FrozenPort:
    """A loopback port that accepts connections (the kernel completes the handshake) and never answers:
    a server that is stopped or wedged."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind((LOOPBACK, 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]

    def close(self):
        self.socket.close()


class SmtpServer:
    """An SMTP server that accepts every message; ``messages`` holds them as ``email.message.EmailMessage``
    with ``rcpt_tos`` (the envelope's recipients) set on each."""

    def __init__(self):
        self.messages = []
        self._lock = threading.Lock()
        self.host, self.port = LOOPBACK, free_port()
        self._controller = Controller(self, hostname=self.host, port=self.port)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message.rcpt_tos = list(envelope.rcpt_tos)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def received(self):
        """(recipient, subject) of every message so far, in order."""
        with self._lock:
            return [(to, message["Subject"]) for message in self.messages for to in message.rcpt_tos]

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()


class WebhookReceiver:
    """An HTTP server that records every POST and whether its signature and timestamp verify with
    ``secret``; it answers 200, or what ``fail_next`` scripted for the next requests:

    - ``"500"``: answers 500;
    - ``"close"``: closes the connection without answering;
    - ``"hang"``: never answers (until the test ends) — the sender must time out.
    """

    def __init__(self, secret):
        self.secret = secret
        self.requests = []
        self._script = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}/esp/alarms"

    def fail_next(self, *behaviours):
        with self._lock:
            self._script.extend(behaviours)

    def verified(self, headers, body):
        """Whether the request is signed with our secret and timestamped within the replay window."""
        timestamp = headers.get("X-ESP-Timestamp", "")
        signed = timestamp.encode() + b"." + body
        expected = "sha256=" + hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= REPLAY_WINDOW_SECONDS
        return fresh and hmac.compare_digest(expected, headers.get("X-ESP-Signature", ""))

    def accepted(self):
        """The bodies (parsed) of the verified requests it answered 200 to, in order."""
        with self._lock:
            return [r["json"] for r in self.requests if r["verified"] and r["answer"] == "200"]

    def _record(self, handler, body):
        with self._lock:
            behaviour = self._script.pop(0) if self._script else "200"
            self.requests.append(
                {
                    "path": handler.path,
                    "headers": dict(handler.headers),
                    "body": body,
                    "json": json.loads(body),
                    "verified": self.verified(handler.headers, body),
                    "answer": behaviour,
                }
            )
        return behaviour

    def _handler_class(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                behaviour = receiver._record(self, body)
                if behaviour == "close":
                    return  # HTTP/1.0: the server closes the connection, nothing was answered
                if behaviour == "hang":
                    receiver._release.wait(HANG_AT_MOST_SECONDS)
                    return
                status = int(behaviour)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"receiver broken")

            def log_message(self, format, *args):
                pass  # keep the test output clean

        return Handler

    def start(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
