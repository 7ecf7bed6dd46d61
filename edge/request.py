"""A request class whose JSON numbers never pass through a float.

Litestar decodes a body to plain Python values first and converts them to the handler's type
second; plain msgspec would turn ``1.10000000000000000001`` into the float ``1.1`` on the way,
silently moving an off-grid price onto the grid. Here every JSON number with a fraction or an
exponent is decoded straight from its text into a ``Decimal`` (``float_hook``); integers stay
``int``. Fields typed ``float`` do not exist in this API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ClientException

__all__ = ["ExactRequest"]

_decoder = msgspec.json.Decoder(float_hook=Decimal)
_UNSET = object()


class ExactRequest(Request[Any, Any, Any]):
    """``Request`` with exact JSON numbers."""

    _exact_json: Any = _UNSET

    async def json(self) -> Any:
        """The body as JSON with every non-integer number a ``Decimal``."""
        if self._exact_json is _UNSET:
            body = await self.body()
            try:
                self._exact_json = _decoder.decode(body or b"null")
            except msgspec.DecodeError as exc:
                raise ClientException(detail=f"the body is not valid JSON: {exc}") from None
        return self._exact_json
