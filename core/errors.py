"""Domain errors: exceptions with a stable `code` (English, for machines) and a message
(Swedish, for people). The API's exception handler turns them into problem+json; the back
office shows the message."""

from __future__ import annotations


class DomainError(Exception):
    code: str = "invalid"
    status: int = 400
    title: str = "Ogiltig begäran"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def with_field(self, field: str) -> DomainError:
        self.field = field
        return self


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Finns inte"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Konflikt"


class PreconditionFailed(DomainError):
    """The client's If-Match names another version than the stored one."""

    code = "version_mismatch"
    status = 412
    title = "Versionen stämmer inte"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    title = "Inte tillåtet"
