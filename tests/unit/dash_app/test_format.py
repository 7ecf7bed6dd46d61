"""dash_app/format.py: display helpers, and the user's decimal text passed through unchanged."""

from __future__ import annotations

import pytest

from dash_app.format import decimal_text, format_time


def test_format_time_is_utc() -> None:
    assert format_time(1_767_571_200_000 + 3_723_000) == "01:02:03"
    assert format_time(1_767_571_200_000 + 3_723_000, seconds=False) == "01:02"


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("100.10", "100.10"),
        (" 0.000100 ", "0.000100"),  # trailing zeros kept: no float, no normalising
        ("5", "5"),
        (".5", ".5"),
        ("1e3", None),
        ("-1", None),
        ("1,5", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_decimal_text_passes_the_users_text_through(raw: str | None, sent: str | None) -> None:
    assert decimal_text(raw) == sent
