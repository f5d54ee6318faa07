"""Errors of the Conductor client: everything it raises is one of these.

ConductorError            base; ``status`` (the HTTP status, or None when no answer came),
│                         ``message`` (the server's message plus its validation messages, readable
│                         as they are in a condition or an event) and ``validation_errors``
│                         (``"path: message"`` strings). Never contains a key secret or a token.
├── Unavailable           connection refused, timeout, any other transport failure, or a 5xx:
│                         transient, ours to retry with backoff (the client never retries)
├── UnsupportedOperation  the server cannot do this: an Orkes-only call (``upgrade``) made to
│                         Conductor OSS, or an endpoint the server does not have (scheduler off)
└── Rejected              a 4xx: the user's input is wrong, sending it again will not help
    ├── NotFound          404 (and the few 500s Conductor OSS gives for a missing object)
    ├── Conflict          409 (and the few 500s Conductor OSS gives for a wrong state)
    └── Unauthorized      401/403 that persists after one token refresh, or a refused key
"""

from __future__ import annotations


class ConductorError(Exception):
    def __init__(self, status: int | None = None, message: str = "", validation_errors: list[str] | None = None):
        self.status = status
        self.validation_errors = list(validation_errors or [])
        details = "; ".join(self.validation_errors)
        self.message = f"{message}: {details}" if message and details else (message or details)
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status})" if self.status else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class Unavailable(ConductorError):
    pass


class UnsupportedOperation(ConductorError):
    pass


class Rejected(ConductorError):
    pass


class NotFound(Rejected):
    pass


class Conflict(Rejected):
    pass


class Unauthorized(Rejected):
    pass
