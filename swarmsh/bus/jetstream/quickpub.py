"""`quick_publish`: the CLI's JetStream publication without nats-py (and so without asyncio).

A CLI command publishes one or two spans and exits; importing nats-py and asyncio would cost
it ≈ 50 ms, more than the rest of its start-up. This speaks the few lines of the NATS client
protocol that takes, over one blocking socket: read INFO, send CONNECT (headers and
no-responders on), subscribe to a reply inbox, HPUB every message with its `Nats-Msg-Id`,
then read one JetStream acknowledgement per message. TLS (`tls://`, or a CA / client
certificate configured) is supported; a credentials file (nkey signatures) is not: then, as
for daemons, `connection.NatsConnection` is used. `NoStream` (the server has no stream for
the subject, e.g. a fresh server) lets the caller create the streams with nats-py.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import orjson

from swarmsh.bus.jetstream.settings import NatsSettings
from swarmsh.errors import BusWriteError

MAX_LINE = 1 << 16  # INFO and control lines; payloads are read by their announced length
MAX_REPLY = 1 << 16  # an acknowledgement is a few dozen bytes


class NoStream(BusWriteError):
    """No stream answered for a subject (503 no responders)."""


class _Wire:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def _fill(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BusWriteError("NATS did not acknowledge in time")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise BusWriteError("NATS closed the connection")
        self.buffer += data

    def line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) == -1:
            if len(self.buffer) > MAX_LINE:
                raise BusWriteError("NATS sent an over-long control line")
            self._fill()
        line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
        return line

    def exactly(self, size: int) -> bytes:
        if not 0 <= size <= MAX_REPLY:
            raise BusWriteError(f"NATS announced a reply of {size} bytes")
        while len(self.buffer) < size + 2:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size + 2 :]
        return data


def _connect(settings: NatsSettings, deadline: float) -> tuple[socket.socket, str]:
    """A connection to the first server that answers, and its host name (for TLS)."""
    errors = []
    for url in settings.servers:
        parts = urlsplit(url)
        try:
            sock = socket.create_connection(
                (parts.hostname or "", parts.port or 4222),
                timeout=max(0.01, deadline - time.monotonic()),
            )
        except OSError as exc:
            errors.append(f"{parts.hostname}:{parts.port}: {exc.strerror or exc}")
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, parts.hostname or ""
    raise BusWriteError(f"cannot reach NATS ({'; '.join(errors)})")


def _tls(sock: socket.socket, settings: NatsSettings, host: str) -> socket.socket:
    from swarmsh.bus.jetstream.connection import _tls_context

    context = _tls_context(settings)
    if context is None:
        import ssl

        context = ssl.create_default_context()
    return context.wrap_socket(sock, server_hostname=host)


def quick_publish(
    settings: NatsSettings, messages: Sequence[tuple[str, bytes, str | None]], stream: str
) -> None:
    """Publish and wait for every acknowledgement; `BusWriteError` (or `NoStream`) if not."""
    deadline = time.monotonic() + settings.timeout_s
    sock, host = _connect(settings, deadline)
    try:
        wire = _Wire(sock, deadline)
        head = wire.line()
        if not head.startswith(b"INFO "):
            raise BusWriteError("not a NATS server")
        info = orjson.loads(head[5:])
        if info.get("tls_required") or settings.tls:
            sock = _tls(sock, settings, host)
            wire.sock = sock
        inbox = "_INBOX." + os.urandom(12).hex()
        connect = {
            "verbose": False,
            "pedantic": False,
            "headers": True,
            "no_responders": True,
            "protocol": 1,
            "lang": "python",
            "version": "swarmsh",
            "name": "swarmsh-cli",
            "tls_required": bool(settings.tls),
        }
        out = [b"CONNECT " + orjson.dumps(connect) + b"\r\n", f"SUB {inbox}.* 1\r\n".encode()]
        for i, (subject, payload, msg_id) in enumerate(messages):
            headers = f"NATS/1.0\r\nNats-Expected-Stream: {stream}\r\n"
            if msg_id:
                headers += f"Nats-Msg-Id: {msg_id}\r\n"
            raw = (headers + "\r\n").encode()
            out.append(
                f"HPUB {subject} {inbox}.{i} {len(raw)} {len(raw) + len(payload)}\r\n".encode()
            )
            out += [raw, payload, b"\r\n"]
        out.append(b"PING\r\n")
        sock.sendall(b"".join(out))
        _read_acks(wire, sock, len(messages))
    except OSError as exc:
        raise BusWriteError(f"NATS: {exc}") from None
    finally:
        sock.close()


def _read_acks(wire: _Wire, sock: socket.socket, expected: int) -> None:
    acked = 0
    while acked < expected:
        line = wire.line()
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"PING":
            sock.sendall(b"PONG\r\n")
        elif verb in (b"PONG", b"+OK", b"INFO"):
            continue
        elif verb == b"-ERR":
            raise BusWriteError(f"NATS refused: {line[5:200].decode(errors='replace')}")
        elif verb == b"MSG":
            body = wire.exactly(int(line.rsplit(b" ", 1)[1]))
            ack = orjson.loads(body)
            if "error" in ack:
                raise BusWriteError(f"JetStream refused a span: {str(ack['error'])[:200]}")
            acked += 1
        elif verb == b"HMSG":
            hdr_len, total = (int(x) for x in line.rsplit(b" ", 2)[1:])
            body = wire.exactly(total)
            if b" 503" in body[:hdr_len].split(b"\r\n", 1)[0]:
                raise NoStream("no stream for the subject")
            raise BusWriteError("JetStream answered without an acknowledgement")
        else:
            raise BusWriteError(f"unexpected from NATS: {line[:80]!r}")
