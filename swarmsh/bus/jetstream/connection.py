"""`NatsConnection`: one synchronous facade over nats-py, so no asyncio leaks into the CLI,
agents or executor.

nats-py is asyncio; the facade runs one event loop in a daemon thread and hands it coroutines:

    from swarmsh.bus.jetstream.connection import NatsConnection
    from swarmsh.bus.jetstream.settings import BusSettings

    conn = NatsConnection.open(BusSettings.from_env().nats, name="swarmsh-cli")
    try:
        ack = conn.publish("swarmsh.spans.x", b"{...}", msg_id="span-...")  # acked or raises
        info = conn.run(conn.js.stream_info("SWARMSH_SPANS"))  # any nats-py coroutine
    finally:
        conn.close()

`run(coro, timeout)` waits for the coroutine's result (timeout: the settings' timeout) and
raises its exception here; coroutines may use `conn.nc` (the client) and `conn.js` (its
JetStream context). A failure to reach the servers or to get a publish acknowledged is
`NatsUnavailable`, a `BusWriteError` (exit 3, like a failed bus write on the file bus).
nats-py is imported only here and only when a connection is opened.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from swarmsh.bus.jetstream.settings import NatsSettings
from swarmsh.errors import BusWriteError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.api import PubAck

_log = logging.getLogger(__name__)
T = TypeVar("T")
MSG_ID = "Nats-Msg-Id"


class NatsUnavailable(BusWriteError):
    """The NATS servers could not be reached, or did not acknowledge a write in time."""


def _tls_context(settings: NatsSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    context = ssl.create_default_context(cafile=str(settings.tls_ca) if settings.tls_ca else None)
    if settings.tls_cert and settings.tls_key:
        context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


class NatsConnection:
    """A connected client and its JetStream context, driven from synchronous code."""

    def __init__(self, settings: NatsSettings, loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self._loop = loop
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    @classmethod
    def open(
        cls, settings: NatsSettings, *, name: str = "swarmsh", reconnect: bool = True
    ) -> NatsConnection:
        """Connect (raising `NatsUnavailable` when no server answers within the timeout).
        `reconnect`: keep reconnecting for ever after a disconnection (daemons); without it,
        a CLI gives up after a few attempts and fails its write instead of hanging."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="nats-loop", daemon=True)
        thread.start()
        conn = cls(settings, loop)
        try:
            conn.run(conn._connect(name, reconnect), timeout=settings.timeout_s * 2 + 1)
        except BaseException:
            conn._stop_loop()
            raise
        return conn

    async def _connect(self, name: str, reconnect: bool) -> None:
        import nats  # lazy: only a NATS bus pays for it

        async def _on_error(exc: Exception) -> None:
            _log.debug("nats: %s", exc)  # reconnection is retried; a failed write raises

        settings = self.settings
        self._nc = await nats.connect(
            servers=list(settings.servers),
            name=name,
            connect_timeout=max(1, round(settings.timeout_s)),
            allow_reconnect=True,
            max_reconnect_attempts=-1 if reconnect else 3,
            reconnect_time_wait=0.25,
            tls=_tls_context(settings),
            user_credentials=str(settings.creds) if settings.creds else None,
            error_cb=_on_error,
        )
        self._js = self._nc.jetstream(timeout=settings.timeout_s)

    @property
    def nc(self) -> Client:
        assert self._nc is not None, "not connected"
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "not connected"
        return self._js

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the connection's loop and return its result (or raise its error).
        On timeout the coroutine is cancelled and `NatsUnavailable` raised."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        limit = self.settings.timeout_s + 1 if timeout is None else timeout
        try:
            return future.result(limit)
        except TimeoutError:
            future.cancel()
            raise NatsUnavailable(f"NATS did not answer within {limit:.1f} s") from None
        except OSError as exc:
            raise NatsUnavailable(f"cannot reach NATS: {exc}") from None
        except Exception as exc:
            if _is_nats_error(exc):
                raise NatsUnavailable(f"NATS: {type(exc).__name__}: {exc}") from None
            raise

    def publish(
        self, subject: str, payload: bytes, *, msg_id: str | None = None, stream: str | None = None
    ) -> PubAck:
        """Publish to a stream and wait for its acknowledgement (`NatsUnavailable` if none).
        `msg_id` (sent as `Nats-Msg-Id`) lets the server drop a re-publication within its
        duplicate window: the ack then says `duplicate=True`."""
        headers = {MSG_ID: msg_id} if msg_id else None
        return self.run(
            self.js.publish(subject, payload, stream=stream, headers=headers),
            timeout=self.settings.timeout_s + 1,
        )

    def publish_all(
        self, messages: Sequence[tuple[str, bytes, str | None]], *, stream: str | None = None
    ) -> list[PubAck]:
        """Publish `(subject, payload, msg_id)` messages concurrently and wait until every one
        is acknowledged; raises `NatsUnavailable` if any is not (some may then be stored:
        which is why replays carry message ids)."""

        async def _all() -> list[PubAck]:
            js = self.js
            return list(
                await asyncio.gather(
                    *(
                        js.publish(s, p, stream=stream, headers={MSG_ID: i} if i else None)
                        for s, p, i in messages
                    )
                )
            )

        return self.run(_all(), timeout=self.settings.timeout_s + 1)

    def close(self) -> None:
        """Flush what is buffered, close, and stop the loop (idempotent)."""
        if self._nc is not None and not self._nc.is_closed:
            try:
                self.run(self._nc.close(), timeout=self.settings.timeout_s)
            except Exception as exc:  # closing a broken connection: nothing left to save
                _log.debug("nats close: %s", exc)
        self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)

    def __enter__(self) -> NatsConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_nats_error(exc: BaseException) -> bool:
    """Is `exc` about reaching the servers (not about what was asked, such as a key that
    exists: those pass through as nats-py raised them)?"""
    import nats.errors
    import nats.js.errors

    unavailable = (
        nats.errors.TimeoutError,
        nats.errors.NoServersError,
        nats.errors.ConnectionClosedError,
        nats.errors.ConnectionReconnectingError,
        nats.errors.NoRespondersError,
        nats.errors.StaleConnectionError,
        nats.errors.OutboundBufferLimitError,
        nats.errors.UnexpectedEOF,
        nats.js.errors.ServiceUnavailableError,
        nats.js.errors.NoStreamResponseError,
        nats.js.errors.ServerError,
        asyncio.TimeoutError,
    )
    return isinstance(exc, unavailable)
