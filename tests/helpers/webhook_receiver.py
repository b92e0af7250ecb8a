"""A webhook receiver to run as its own process, so tests can SIGKILL it and start it
again on the same port (as a crashed downstream service would behave).

    python -m tests.helpers.webhook_receiver --port 8123 --out /tmp/x/requests.jsonl [--style S]

Every request is appended to ``--out`` as one JSON line ``{"auth", "type", "body",
"peer", "headers"}`` and flushed before the 200 is sent, so the file order is arrival order and
nothing the sender saw acknowledged is missing from it. ``peer`` is the sender's
``host:port``: one value per connection.

``--style`` picks how the receiver speaks HTTP, as the receivers people write do:

- ``aiohttp`` (default): aiohttp's server, HTTP/1.1 keep-alive;
- ``http10``: ``http.server.BaseHTTPRequestHandler`` as it comes: ``HTTP/1.0 200``, no
  Content-Length, the body ends when the server closes the connection;
- ``close``: ``http.server`` speaking HTTP/1.1 with Content-Length and
  ``Connection: close`` on every response;
- ``http11``: ``http.server`` speaking HTTP/1.1 keep-alive, one connection at a time
  (a sender that opens a second connection while one is open waits forever).
"""

from __future__ import annotations

import argparse
import http.server
import json
from typing import IO, Any

from aiohttp import web

STYLES = ("aiohttp", "http10", "close", "http11")


def record_line(out: IO[str], auth: str | None, ctype: str | None, body: bytes, peer: Any, headers: Any = None) -> None:
    line = {
        "auth": auth,
        "type": ctype,
        "body": body.decode("utf-8"),
        "peer": f"{peer[0]}:{peer[1]}" if peer else "",
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
    }
    out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()


def run_aiohttp(port: int, out: IO[str]) -> None:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        record_line(
            out,
            request.headers.get("Authorization"),
            request.headers.get("Content-Type"),
            body,
            peer,
            request.headers,
        )
        return web.Response(text="ok")

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, reuse_address=True)


def run_http_server(port: int, out: IO[str], style: str) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        # http10 keeps BaseHTTPRequestHandler's default, "HTTP/1.0".
        protocol_version = "HTTP/1.0" if style == "http10" else "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            record_line(
                out,
                self.headers.get("Authorization"),
                self.headers.get("Content-Type"),
                body,
                self.client_address,
                self.headers,
            )
            self.send_response(200)
            if style != "http10":
                self.send_header("Content-Length", "2")
            if style == "close":
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http.server.HTTPServer.allow_reuse_address = True
    with http.server.HTTPServer(("127.0.0.1", port), Handler) as server:
        server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--style", choices=STYLES, default="aiohttp")
    args = parser.parse_args()
    out = open(args.out, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life
    if args.style == "aiohttp":
        run_aiohttp(args.port, out)
    else:
        run_http_server(args.port, out, args.style)


if __name__ == "__main__":
    main()
