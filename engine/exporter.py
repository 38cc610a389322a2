"""The node's one HTTP listener: /metrics, /healthz and /summary.

Served by the standard library's WSGI server in a daemon thread, with
prometheus-client's own WSGI app for /metrics. It binds to loopback unless
told otherwise. /healthz answers from the loop's last sign of life and never
touches the GPU.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import msgspec
from prometheus_client import make_wsgi_app

from engine.errors import InputError

log = logging.getLogger("engine")

DEFAULT_ADDR: Final = "127.0.0.1:9464"
# The loop reports after every search slice (a fraction of a second); this
# long without a report means it is stuck.
STALE_AFTER_S: Final = 30.0

StartResponse = Callable[..., Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)


def parse_addr(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"--metrics-addr takes HOST:PORT, got {text!r}.")
    return host.strip("[]") or "127.0.0.1", int(port)


class Exporter:
    """Serves the node's registry and state until close()."""

    def __init__(
        self,
        addr: str,
        registry: Any,
        summary: Callable[[], dict[str, Any]],
        alive: Callable[[], float],
    ) -> None:
        host, port = parse_addr(addr)
        self._metrics = make_wsgi_app(registry)
        self._summary, self._alive = summary, alive
        try:
            self._server = make_server(host, port, self._app, _Server, _Handler)
        except OSError as exc:
            raise InputError(
                f"cannot listen on {addr}: {exc.strerror or exc}."
            ) from exc
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="engine-http", daemon=True
        )
        self._thread.start()
        log.info("serving /metrics, /healthz and /summary on %s:%d", host, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics(environ, start)
        if path == "/healthz":
            return self._health(start)
        if path == "/summary":
            return _reply(start, "200 OK", msgspec.json.encode(self._summary()))
        return _reply(start, "404 Not Found", b'{"error": "not found"}')

    def _health(self, start: StartResponse) -> Iterable[bytes]:
        quiet = time.monotonic() - self._alive()
        if quiet > STALE_AFTER_S:
            body = msgspec.json.encode({"status": "stale", "quiet_s": round(quiet, 1)})
            return _reply(start, "503 Service Unavailable", body)
        return _reply(start, "200 OK", b'{"status": "ok"}')


def _reply(start: StartResponse, status: str, body: bytes) -> list[bytes]:
    start(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
