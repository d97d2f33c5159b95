"""How a request ends, and the one table that maps each ending onto gRPC and HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

# Why a request was not (wholly) accepted.
INVALID = "invalid"  # malformed: the sender must not retry it as it is
TOO_LARGE = "too_large"  # over the request-size bound, compressed or decompressed
UNSUPPORTED = "unsupported"  # a content type or encoding we do not speak
UNAUTHENTICATED = "unauthenticated"  # a token is configured and the request lacks it
SATURATED = "saturated"  # too many requests or bytes in flight: retry later
UNAVAILABLE = "unavailable"  # the bus cannot be written (disk full, I/O error): retry later
STOPPING = "stopping"  # the receiver is shutting down: retry (elsewhere or later)


@dataclass(frozen=True, slots=True)
class Answer:
    grpc_code: grpc.StatusCode
    http_status: int
    retryable: bool


ANSWERS: dict[str, Answer] = {
    INVALID: Answer(grpc.StatusCode.INVALID_ARGUMENT, 400, False),
    TOO_LARGE: Answer(grpc.StatusCode.INVALID_ARGUMENT, 413, False),
    UNSUPPORTED: Answer(grpc.StatusCode.INVALID_ARGUMENT, 415, False),
    UNAUTHENTICATED: Answer(grpc.StatusCode.UNAUTHENTICATED, 401, False),
    SATURATED: Answer(grpc.StatusCode.RESOURCE_EXHAUSTED, 429, True),
    UNAVAILABLE: Answer(grpc.StatusCode.UNAVAILABLE, 503, True),
    STOPPING: Answer(grpc.StatusCode.UNAVAILABLE, 503, True),
}


class RequestError(Exception):
    """A request that is not accepted; `kind` picks the answer, the message goes on the wire."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.answer = ANSWERS[kind]

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request whose spans are on the bus (`rejected` of them refused for good)."""

    accepted: int
    rejected: int
    message: str = ""
