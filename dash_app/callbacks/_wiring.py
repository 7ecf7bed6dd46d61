"""A typed ``app.callback``: Dash's own returns ``Callable[..., Any]``, which would erase the
signature of every callback under ``mypy --strict``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from dash import ClientsideFunction, Dash

__all__ = ["callback", "clientside"]

F = TypeVar("F", bound=Callable[..., Any])


def callback(app: Dash, *dependencies: Any, **options: Any) -> Callable[[F], F]:
    """Register the decorated function on ``app`` and hand it back unchanged (callable in tests)."""
    register = app.callback(*dependencies, **options)

    def decorate(function: F) -> F:
        register(function)
        return function

    return decorate


def clientside(app: Dash, function: ClientsideFunction | str, *dependencies: Any) -> None:
    """Register a callback that runs in the browser: a function of ``dash_app/assets``, or a
    one-line function given as its source."""
    app.clientside_callback(function, *dependencies)  # type: ignore[no-untyped-call]
