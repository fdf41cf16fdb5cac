#!/usr/bin/env python3
"""HTTP/3 interoperability: an independent client (aioquic, from PyPI)
against `ridge dev --https`.

Checks a GET, a 404, a 1 MiB POST echoed back byte for byte, and 20
concurrent requests on one connection. Exits non-zero on any mismatch.

    python3 -m pip install aioquic
    python3 tests/h3_interop.py target/debug/ridge
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import ssl
import subprocess
import sys
from pathlib import Path

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration

REPO = Path(__file__).resolve().parent.parent


class Http3Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.pending: dict[int, tuple[asyncio.Future, dict]] = {}

    def quic_event_received(self, event) -> None:
        for h3_event in self.h3.handle_event(event):
            if not isinstance(h3_event, (HeadersReceived, DataReceived)):
                continue
            future, answer = self.pending[h3_event.stream_id]
            if isinstance(h3_event, HeadersReceived):
                answer["headers"] = dict(h3_event.headers)
            else:
                answer["body"] += h3_event.data
            if h3_event.stream_ended and not future.done():
                future.set_result(answer)

    async def request(self, method: str, authority: str, path: str, body: bytes = b"") -> dict:
        stream_id = self._quic.get_next_available_stream_id()
        headers = [(b":method", method.encode()), (b":scheme", b"https"),
                   (b":authority", authority.encode()), (b":path", path.encode())]
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        self.h3.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self.h3.send_data(stream_id, body, end_stream=True)
        future = asyncio.get_running_loop().create_future()
        self.pending[stream_id] = (future, {"headers": {}, "body": b""})
        self.transmit()
        answer = await asyncio.wait_for(future, 30)
        answer["status"] = int(answer["headers"][b":status"])
        return answer


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        raise SystemExit(1)


async def run(port: int) -> None:
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN,
                                      verify_mode=ssl.CERT_NONE, server_name="localhost")
    async with connect("127.0.0.1", port, configuration=configuration,
                       create_protocol=Http3Client) as client:
        authority = f"localhost:{port}"
        answer = await client.request("GET", authority, "/release?id=none")
        check(answer["status"] == 200 and answer["body"] == b"unknown id", "GET")
        answer = await client.request("GET", authority, "/missing")
        check(answer["status"] == 404, "404 for an unknown path")
        payload = bytes(i % 251 for i in range(1024 * 1024))
        answer = await client.request("POST", authority, "/echo", payload)
        check(answer["status"] == 200 and
              hashlib.sha256(answer["body"]).digest() == hashlib.sha256(payload).digest(),
              "1 MiB POST echoed back")
        answers = await asyncio.gather(*(client.request("GET", authority, f"/release?id={i}")
                                         for i in range(20)))
        check(all(a["status"] == 200 for a in answers), "20 concurrent requests")


def main() -> None:
    ridge = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "target/debug/ridge")
    process = subprocess.Popen(
        [ridge, "dev", str(REPO / "fixtures/workers/streaming"), "--https", "--port", "0"],
        stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in process.stderr:
            found = re.search(r"HTTP/3 on udp://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
                break
        check(port is not None, "ridge announced its HTTP/3 port")
        asyncio.run(run(port))
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
