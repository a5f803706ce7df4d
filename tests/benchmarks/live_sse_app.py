"""The project's WSGI application plus one server-sent-events endpoint, for ``dashboards_live.py`` only.

``GET /bench-sse?every=5`` streams, every ``every`` seconds, the fleet page's live fragment as one SSE
event. Each event is made by the project's own view, called in-process with the stream's session
cookie, so an event costs the server exactly what one poll of ``/?fragment=live`` costs: the two
transports are compared on the same work. The stream holds its gunicorn thread for as long as the
browser keeps it open, which is what the benchmark is about.
"""

import time
from urllib.parse import parse_qs

from config.wsgi import application as django_application


def _fragment(environ):
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    inner = {**environ, "PATH_INFO": "/", "QUERY_STRING": "fragment=live", "REQUEST_METHOD": "GET"}
    result = django_application(inner, start_response)
    try:
        return answer["status"], b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()


def application(environ, start_response):
    if environ.get("PATH_INFO") != "/bench-sse":
        return django_application(environ, start_response)
    every = float(parse_qs(environ.get("QUERY_STRING", "")).get("every", ["5"])[0])

    def events():
        while True:
            status, body = _fragment(environ)
            if not status.startswith("200"):
                yield f"event: error\ndata: {status}\n\n".encode()
                return
            yield b"data: " + body.replace(b"\n", b"\ndata: ") + b"\n\n"
            time.sleep(every)

    start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store")])
    return events()
