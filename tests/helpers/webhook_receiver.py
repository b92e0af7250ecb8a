"""A webhook receiver to run as its own process, so tests can SIGKILL it and start it
again on the same port (as a crashed downstream service would behave).

    python -m tests.helpers.webhook_receiver --port 8123 --out /tmp/x/requests.jsonl

Every request is appended to ``--out`` as one JSON line ``{"auth", "type", "body"}``
and flushed before the 200 is sent, so the file order is arrival order and nothing the
sender saw acknowledged is missing from it.
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = open(args.out, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        line = {
            "auth": request.headers.get("Authorization"),
            "type": request.headers.get("Content-Type"),
            "body": body.decode("utf-8"),
        }
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
        return web.Response(text="ok")

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(
        app, host="127.0.0.1", port=args.port, access_log=None, print=None, reuse_address=True
    )


if __name__ == "__main__":
    main()
