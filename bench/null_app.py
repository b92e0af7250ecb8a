"""A null S3 stand-in: the ceiling any Python ASGI server reaches on this machine.

Accepts any request, reads and discards the body, answers 200. A GET (or HEAD) answers
with as many bytes as the key's last token says: ``.../obj-3-1m`` -> 1 MiB, ``...-4k`` ->
4 KiB, ``...-100`` -> 100 bytes; anything else -> an empty body. It ignores auth.

    python -m bench.null_app --port 9900
"""

from __future__ import annotations

import argparse
import re

_SIZE = re.compile(r"[-/_]?(\d+)([kmg]?)$", re.I)
_UNIT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_bodies: dict[int, bytes] = {}
_EMPTY_HEADERS = [(b"content-length", b"0"), (b"etag", b'"d41d8cd98f00b204e9800998ecf8427e"')]


def _size(path: str) -> int:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    m = _SIZE.search(last)
    if not m:
        return 0
    return min(int(m.group(1)) * _UNIT[m.group(2).lower()], 1 << 30)


def _body(size: int) -> bytes:
    body = _bodies.get(size)
    if body is None:
        body = _bodies[size] = b"\0" * size
    return body


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:  # read and discard the request body
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)
    method = scope["method"]
    if method in ("GET", "HEAD"):
        size = _size(scope["path"])
        headers = [
            (b"content-length", str(size).encode()),
            (b"content-type", b"application/octet-stream"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _body(size) if method == "GET" else b""})
    else:
        await send({"type": "http.response.start", "status": 200, "headers": _EMPTY_HEADERS})
        await send({"type": "http.response.body", "body": b""})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9900)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
        backlog=2048,
    )


if __name__ == "__main__":
    main()
