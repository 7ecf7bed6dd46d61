"""One error shape for every failure: ``{"code", "message", "error": {"code", "message",
"field"?}}``. ``code`` and ``message`` at the top are Backpack's error shape, which its clients
read; ``error`` is ours, with the field at fault and the order concerned. Both say the same.

Handlers turn Litestar's own exceptions (validation, auth, 404, 405, 413, 429) into that shape so
no client ever parses two formats, and no bad input ever surfaces as a 500.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

__all__ = ["ApiError", "error_body", "exception_handlers"]

log = logging.getLogger("tidewater.edge")

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
    504: "TIMEOUT",
}


class ApiError(Exception):
    """A failure to report to the client as is."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra or {}
        self.headers = headers or {}


def _body(code: str, message: str, field: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    error.update(extra)
    return {"code": code, "message": message, "error": error}


def _shape(exc: ApiError) -> dict[str, Any]:
    return _body(exc.code, exc.message, exc.field, exc.extra)


def error_body(exc: ApiError) -> bytes:
    """The JSON body of an ``ApiError``, for code that answers without Litestar."""
    return msgspec.json.encode(_shape(exc))


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return Response(
        _shape(exc),
        status_code=exc.status,
        media_type=MediaType.JSON,
        headers=exc.headers,
    )


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    field = None
    message = exc.detail
    details = exc.extra if isinstance(exc.extra, list) else []
    if details and isinstance(details[0], dict):
        first = details[0]
        field = first.get("key")
        if isinstance(field, str):  # a parameter's Python name; the API names it in camelCase
            head, *rest = field.split("_")
            field = head + "".join(part.title() for part in rest)
        message = str(first.get("message", message))
        if field == "data":  # Litestar's name for the body: only ever missing here (edge.request)
            return Response(
                _body("BAD_REQUEST", "the request needs a JSON body", None, {}),
                status_code=400,
                media_type=MediaType.JSON,
            )
        if field and field not in message:
            message = f"{field}: {message}"
    return Response(
        _body("INVALID_REQUEST", message, field, {}),
        status_code=400,
        media_type=MediaType.JSON,
    )


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = headers.get("RateLimit-Reset", "1")
    return Response(
        _body(_CODES.get(status, "ERROR"), exc.detail, None, {}),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        _body("INTERNAL", "internal error", None, {}),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type=MediaType.JSON,
    )


exception_handlers: dict[type[Exception] | int, Any] = {
    ApiError: _api_error,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}
