"""The client's one exception: :class:`ApiError`, carrying the API's error code.

Every failure of a call raises it, whether the edge answered with its error body (``{"code",
"message", "error": {"code", "message", "field"?, "orderId"?}}``, ``model.api.ErrorBody``) or did
not answer at all. ``transient`` tells the two kinds a caller handles differently: worth trying
again later (no answer, a dropped connection, 429, 5xx), or a refusal that the same request will
meet again (every other 4xx: a bad price, insufficient funds, an unknown order). ``unavailable`` is
the narrower "the edge is down or failing" (no answer or 5xx): a page shows "unreachable" for it,
while a 429 is a refusal to show."""

from __future__ import annotations

import msgspec

from model.api import ErrorBody

__all__ = ["TRANSIENT_STATUSES", "UNREACHABLE", "ApiError", "error_from_answer"]

#: Statuses that a later retry of the same request may not meet (the edge busy or restarting).
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
#: The code of an :class:`ApiError` raised when no answer came (refused, timed out, dropped).
UNREACHABLE = "UNREACHABLE"


class ApiError(Exception):
    """A call failed; ``code`` is the API's error code (``INSUFFICIENT_FUNDS``, ``UNAUTHORIZED``).

    ``status`` is the HTTP status; ``None`` when the edge did not answer (``code`` is then
    :data:`UNREACHABLE` and ``message`` says what happened to the connection) and for a refusal
    on the WebSocket, which has no status (``code`` is the edge's, e.g. ``UNKNOWN_STREAM``).
    """

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        *,
        field: str | None = None,
        order_id: str | None = None,
        retry_after_ms: int = 0,
    ) -> None:
        super().__init__(f"{status or 'no answer'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        """The request field at fault, when the edge named one."""
        self.order_id = order_id
        """The order concerned, when the edge named one (a rejection, a timeout while placing)."""
        self.retry_after_ms = retry_after_ms
        """The edge's ``Retry-After``, in milliseconds (0 when it sent none)."""

    @property
    def transient(self) -> bool:
        """Whether trying the same call again later may succeed (no answer, 429 or 5xx)."""
        return self.code == UNREACHABLE or self.status in TRANSIENT_STATUSES

    @property
    def unavailable(self) -> bool:
        """Whether the edge is down or failing (no answer, or 5xx), rather than refusing."""
        return self.code == UNREACHABLE or (self.status or 0) >= 500

    @classmethod
    def unreachable(cls, what: str, reason: str) -> ApiError:
        """The error of a call that got no answer: ``what`` is the call, ``reason`` the failure."""
        return cls(None, UNREACHABLE, f"{what}: {reason}")


_decode_error = msgspec.json.Decoder(ErrorBody).decode


def error_from_answer(
    status: int, content: bytes, reason: str, retry_after: str | None = None
) -> ApiError:
    """The :class:`ApiError` a non-2xx answer stands for (its error body, when it has one)."""
    retry_after_ms = int(retry_after) * 1000 if retry_after and retry_after.isdigit() else 0
    try:
        detail = _decode_error(content).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        text = content[:200].decode("utf-8", "replace").strip()
        return ApiError(status, f"HTTP_{status}", text or reason, retry_after_ms=retry_after_ms)
    return ApiError(
        status,
        detail.code,
        detail.message,
        field=detail.field,
        order_id=detail.order_id,
        retry_after_ms=retry_after_ms,
    )
