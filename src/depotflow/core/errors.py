"""The one error model: typed, coded, API-agnostic exceptions."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    loc: tuple[str | int, ...]
    code: str
    msg: str


class DepotflowError(Exception):
    """Base of every expected failure; `code` is part of the API and never renamed."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad Request"
    # When true, the unit of work commits what was written before the error was raised
    # (for example a failed login attempt and its audit entry) instead of rolling back.
    commit_before_raise: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        details: Mapping[str, object] | None = None,
        fields: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        self.fields = tuple(fields)
        self.headers = dict(headers or {})
        # Seconds the HTTP layer waits before answering (login slow-down), after the commit.
        self.delay_seconds = 0.0


class BadRequest(DepotflowError):
    status = 400
    title = "Bad Request"
    code = "bad_request"


class NotAuthenticated(DepotflowError):
    status = 401
    title = "Unauthorized"
    code = "not_authenticated"


class PermissionDenied(DepotflowError):
    status = 403
    title = "Forbidden"
    code = "permission_denied"


class PasswordChangeRequired(PermissionDenied):
    code = "auth.password_change_required"


class NotFound(DepotflowError):
    status = 404
    title = "Not Found"
    code = "not_found"


class Conflict(DepotflowError):
    status = 409
    title = "Conflict"
    code = "conflict"


class PayloadTooLarge(DepotflowError):
    status = 413
    title = "Content Too Large"
    code = "request.too_large"


class ValidationFailed(DepotflowError):
    status = 422
    title = "Unprocessable Content"
    code = "validation_failed"


class TooManyRequests(DepotflowError):
    status = 429
    title = "Too Many Requests"
    code = "too_many_requests"


class UpstreamUnavailable(DepotflowError):
    status = 502
    title = "Bad Gateway"
    code = "upstream_unavailable"


class ServiceUnavailable(DepotflowError):
    status = 503
    title = "Service Unavailable"
    code = "service_unavailable"


class InvalidSort(ValidationFailed):
    code = "listing.invalid_sort"


class InvalidLimit(ValidationFailed):
    code = "listing.invalid_limit"


class InvalidFilter(ValidationFailed):
    code = "listing.invalid_filter"


def all_error_classes() -> list[type[DepotflowError]]:
    """Every DepotflowError subclass imported so far (for the uniqueness test)."""
    seen: list[type[DepotflowError]] = []
    stack: list[type[DepotflowError]] = [DepotflowError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
