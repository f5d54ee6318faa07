"""Errors of the Conductor client: everything it raises is one of these.

ConductorError            base; ``status`` (the HTTP status, or None when no answer came),
│                         ``message`` (the server's message plus its validation messages, readable
│                         as they are in a condition or an event) and ``validation_errors``
│                         (``"path: message"`` strings), and ``items``: for a call that sends a list
│                         (bulk definition registration), the positions in that list of the items
│                         the server named as at fault (empty when it named none). Never contains a
│                         key secret or a token.
├── Unavailable           connection refused, timeout, any other transport failure, a 5xx, or
│                         a 4xx that says "not now" (408, 421, 423, 425, 429): transient, ours to
│                         retry with backoff, no sooner than ``retry_after`` seconds when the server
│                         sent Retry-After (the client retries only briefly, see its docstring)
├── UnsupportedOperation  the server cannot do this: an Orkes-only call (``upgrade``) made to
│                         Conductor OSS, or an endpoint the server does not have (scheduler off)
└── Rejected              any other 4xx: the user's input is wrong, sending it again will not help
    ├── NotFound          404, 410 (and the few 500s Conductor OSS gives for a missing object)
    ├── Conflict          409 (and the few 500s Conductor OSS gives for a wrong state)
    ├── Unauthorized      401/403 that persists after one token refresh, 407, or a refused key
    ├── NotConductor      the server at the URL was not positively identified as Conductor (its
    │                     answers are never shown)
    ├── AddressNotAllowed the URL's host, or an address it resolves to, is refused by the operator's
    │                     allowlist (link-local and cloud metadata addresses by default); nothing sent
    └── UnsafeName        a name or id that cannot be one segment of a Conductor URL path ("..", "a/b");
                          nothing sent
"""

from __future__ import annotations


class ConductorError(Exception):
    def __init__(self, status: int | None = None, message: str = "", validation_errors: list[str] | None = None,
                 *, items: tuple[int, ...] | list[int] = ()):
        self.status = status
        self.items = tuple(sorted(set(items)))
        """Positions (0-based) in the list sent of the items the server named as at fault; () when none."""
        self.validation_errors = list(validation_errors or [])
        details = "; ".join(self.validation_errors)
        self.message = f"{message}: {details}" if message and details else (message or details)
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status})" if self.status else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class Unavailable(ConductorError):
    def __init__(self, status: int | None = None, message: str = "", validation_errors: list[str] | None = None,
                 *, retry_after: float | None = None):
        super().__init__(status, message, validation_errors)
        self.retry_after = retry_after
        """Seconds the server asked to wait (its Retry-After header), None when it said nothing."""


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


class NotConductor(Rejected):
    pass


class AddressNotAllowed(Rejected):
    pass


class UnsafeName(Rejected):
    pass
