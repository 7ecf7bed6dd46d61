"""``tidewater report`` without a database: the table's layout and how bad usage is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from analytics.frames import empty_bars
from analytics.report import main, render
from analytics.summaries import summary
from model.config import load_markets
from model.settings import get_settings
from tests.support.bars import at, bars

CONFIG = load_markets()


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("DATABASE_URL", "TIDEWATER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_render_aligns_a_table_under_the_window() -> None:
    window = {"start": at(0), "end": at(60)}
    tata, btc = CONFIG.markets["TATA_INR"], CONFIG.markets["BTC_USDC"]
    frame = bars([(0, 10_000, 10_100, 9_900, 10_050, 12, 120_600, 4)])
    traded = summary(frame, tata, every="1m", **window)
    quiet = summary(empty_bars(), btc, every="1m", **window)
    assert render([traded, quiet]).splitlines() == [
        "1m bars opening in [2026-01-05 00:00:00Z, 2026-01-05 01:00:00Z); volatility per 1m",
        "market      open    high    low   close  change  change %  volume  quote volume  trades"
        "     VWAP  volatility",
        "TATA_INR  100.00  101.00  99.00  100.50   +0.50    +0.50%      12       1206.00       4"
        "  100.500           -",
        "BTC_USDC       -       -      -       -       -         -  0.0000      0.000000       0"
        "        -           -",
    ]


def test_render_of_nothing_is_the_header() -> None:
    assert render([]).startswith("market")


def test_an_unknown_market_is_a_usage_error(
    no_database: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--market", "DOGE_USDC"])
    assert exited.value.code == 2
    assert "unknown market 'DOGE_USDC'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "one of the arguments --market --all is required"),
        (["--all", "--market", "BTC_USDC"], "not allowed with argument"),
        (["--all", "--since", "1mo"], "not a duration"),
        (["--all", "--interval", "1y"], "not a duration"),
        (["--all", "--start", "yesterday"], "not an ISO 8601 time"),
        (["--all", "--start", "2026-01-05", "--since", "1h"], "not allowed with argument"),
        (["--all", "--start", "2026-01-05T01:00", "--end", "2026-01-05"], "is before --start"),
    ],
)
def test_bad_usage_exits_with_2_and_says_why(
    argv: list[str], message: str, no_database: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_without_a_database_it_says_so(
    no_database: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--market", "btc-usdc", "--since", "1h"]) == 1
    assert "set DATABASE_URL" in capsys.readouterr().err
