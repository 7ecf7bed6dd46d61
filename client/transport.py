"""What both clients do with one HTTP exchange: headers out, answer or error in (sans I/O)."""

from __future__ import annotations

from typing import TypeVar

import httpx
import msgspec

from client.errors import ApiError, error_from_answer
from client.routes import Call

__all__ = ["DEFAULT_TIMEOUT", "answer", "headers_for", "unreachable"]

T = TypeVar("T")

#: Short: an order's answer takes milliseconds; a late one is worth less than a retry.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
_JSON = {"Content-Type": "application/json"}


def headers_for(call: Call[T], token: str | None) -> dict[str, str]:
    """The request headers of ``call``: its body's type and the bearer token."""
    headers = dict(_JSON) if call.body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def answer(call: Call[T], response: httpx.Response) -> T:
    """The decoded 2xx body of ``response``, or the :class:`ApiError` it stands for."""
    if not response.is_success:
        raise error_from_answer(
            response.status_code,
            response.content,
            response.reason_phrase,
            response.headers.get("Retry-After"),
        )
    try:
        return call.decode(response.content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        # Whatever answered (a proxy's page, another service) does not speak the API.
        raise ApiError.unreachable(
            f"{call.method} {call.path}", f"the answer is not the API's: {exc}"
        ) from None


def unreachable(call: Call[T], exc: httpx.HTTPError | httpx.InvalidURL) -> ApiError:
    """The error of ``call`` when the edge did not answer."""
    return ApiError.unreachable(f"{call.method} {call.path}", f"{type(exc).__name__}: {exc}")
