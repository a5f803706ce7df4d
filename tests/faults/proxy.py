"""A tiny TCP load balancer for the scale-out tests: one loopback address in front of several web
instances, each new connection to the next instance in turn (as a round-robin layer-4 balancer does)."""

import asyncio
import collections
import contextlib
import threading

from tests.operations.processes import free_port

HOST = "127.0.0.1"


class RoundRobinProxy(threading.Thread):
    """Listens on ``port`` and relays each connection to the next of ``backends`` ((host, port) pairs);
    ``connections`` counts connections per backend."""

    def __init__(self, backends, port=None):
        super().__init__(daemon=True)
        self.backends = backends
        self.port = port or free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.connections = collections.Counter()
        self._turn = 0
        self._ready = threading.Event()
        self._loop = None
        self._server = None

    def run(self):
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(asyncio.start_server(self._relay, HOST, self.port, backlog=1024))
        self._ready.set()
        self._loop.run_forever()

    def start(self):
        super().start()
        assert self._ready.wait(30), "the proxy did not start"
        return self

    async def _relay(self, client_reader, client_writer):
        backend = self.backends[self._turn % len(self.backends)]
        self._turn += 1
        self.connections[backend] += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*backend)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))

    @staticmethod
    async def _pipe(reader, writer):
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()

    def stop(self):
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self.join(10)
