"""Errors of the Conductor client.

ConductorError            anything the client raises; ``status`` (HTTP status or None),
                          ``message`` (readable, with the server's validation messages)
├── Unavailable           no answer, a timeout or a 5xx: ours to retry with backoff
├── UnsupportedOperation  an Orkes-only call made to Conductor OSS
└── Rejected              a 4xx: the input is wrong, retrying the same call will not help
    ├── NotFound          404
    ├── Conflict          409
    └── Unauthorized      401/403 that persists after one token refresh
"""

from __future__ import annotations


class ConductorError(Exception):
    def __init__(self, status: int | None = None, message: str = "", validation_errors: list[str] | None = None):
        self.status = status
        self.validation_errors = list(validation_errors or [])
        details = "; ".join(self.validation_errors)
        self.message = f"{message}: {details}" if details and message else (message or details)
        super().__init__(self.message)


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
