"""The gate's policies (``edge/gate.py``) on their own: hosts, the token check and its cache,
the buckets and budgets, and the 429 they refuse with."""

from __future__ import annotations

import time

import jwt
import pytest

import edge.gate
from edge.errors import error_body
from edge.gate import Bucket, Budgets, Hosts, Tokens, client_ip, rate_limited
from model.settings import DEV_JWT_SECRET
from tests.security.test_tokens import FORGERIES

SECRET = DEV_JWT_SECRET


def _token(sub: str = "7", ttl: int = 600, secret: str = SECRET) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + ttl}, secret, "HS256")


def _bearer(token: str) -> bytes:
    return b"Bearer " + token.encode()


# -- hosts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "host", "served"),
    [
        (["localhost", "localhost:8000"], b"localhost", True),
        (["localhost", "localhost:8000"], b"localhost:8000", True),
        (["localhost", "localhost:8000"], b"localhost:8001", False),
        (["localhost"], b"LOCALHOST.evil.example", False),
        (["localhost"], b"localhost.evil.example", False),
        (["localhost"], b"evil.localhost", False),
        (["localhost"], None, False),
        (["localhost"], b"", False),
        (["*.example.com"], b"api.example.com", True),
        (["*.example.com"], b"api.example.com:8443", True),
        (["*.example.com"], b"example.com", False),
        (["*.example.com"], b"evilexample.com", False),
        (["*.example.com"], b":8000", False),
        (["*"], b"anything.at.all", True),
        (["*"], None, True),
    ],
)
def test_hosts(allowed: list[str], host: bytes | None, served: bool) -> None:
    assert Hosts(allowed).allows(host) is served


def test_the_exact_hosts_are_the_header_bytes() -> None:
    hosts = Hosts(["localhost", "*.example.com"])
    assert hosts.exact == {b"localhost", b"*.example.com"}
    assert not hosts.allows_other(b"localhost")  # exact names are not "other" hosts
    assert hosts.allows_other(b"a.example.com")


# -- tokens ----------------------------------------------------------------------------------


def test_a_valid_token_names_its_user() -> None:
    assert Tokens(SECRET).user(_bearer(_token("42"))) == 42


@pytest.mark.parametrize(
    "header",
    [
        None,
        b"",
        b"Bearer",
        b"Bearer ",
        _token().encode(),  # no scheme word: the token would be read as the scheme
    ],
)
def test_no_token_no_user(header: bytes | None) -> None:
    assert Tokens(SECRET).user(header) is None


def test_the_scheme_word_is_not_checked_as_litestar_never_did() -> None:
    assert Tokens(SECRET).user(b"Token " + _token("5").encode()) == 5


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_every_forgery_of_the_security_suite_is_refused(name: str) -> None:
    own = _token("8")
    assert Tokens(SECRET).user(_bearer(FORGERIES[name](7, own))) is None


def test_a_token_signed_with_another_secret_is_refused() -> None:
    assert Tokens(SECRET).user(_bearer(_token(secret="k" * 40))) is None


def test_a_cached_token_stops_counting_when_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = Tokens(SECRET)
    header = _bearer(_token("9", ttl=60))
    assert tokens.user(header) == 9
    later = time.time() + 61
    monkeypatch.setattr(edge.gate.time, "time", lambda: later)
    assert tokens.user(header) is None


def test_a_verified_token_is_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = Tokens(SECRET)
    header = _bearer(_token("11"))
    assert tokens.user(header) == 11
    calls: list[object] = []
    monkeypatch.setattr(edge.gate, "verify_token", lambda *a: calls.append(a))
    assert tokens.user(header) == 11
    assert calls == []


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge.gate, "MAX_ENTRIES", 3)
    tokens = Tokens(SECRET)
    for sub in range(1, 8):
        assert tokens.user(_bearer(_token(str(sub)))) == sub
        assert len(tokens._cache) <= 3


# -- buckets and budgets ---------------------------------------------------------------------


def test_a_bucket_lets_limit_through_then_says_how_long_to_wait() -> None:
    bucket = Bucket(4)
    assert [bucket.take("k", 100.0) for _ in range(4)] == [0.0] * 4
    assert bucket.take("k", 100.0) == pytest.approx(0.25)
    assert bucket.take("other", 100.0) == 0.0  # one bucket per key
    assert bucket.take("k", 100.25) == 0.0  # refilled at 4 a second
    assert bucket.take("k", 100.25) > 0.0


def test_a_refused_take_spends_nothing() -> None:
    bucket = Bucket(1)
    assert bucket.take("k", 0.0) == 0.0
    for _ in range(10):
        assert bucket.take("k", 0.5) == pytest.approx(0.5)
    assert bucket.take("k", 1.0) == 0.0


def test_a_bucket_per_minute() -> None:
    bucket = Bucket(5, 60.0)
    assert [bucket.take("ip", 0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.take("ip", 0.0) == pytest.approx(12.0)
    assert bucket.take("ip", 12.0) == 0.0


def test_a_limit_of_zero_lets_everything_through() -> None:
    bucket = Bucket(0)
    assert all(bucket.take("k", 0.0) == 0.0 for _ in range(1000))


def test_a_bucket_store_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge.gate, "MAX_ENTRIES", 10)
    bucket = Bucket(1)
    for key in range(100):
        bucket.take(str(key), 0.0)
        assert len(bucket._state) <= 11


def test_one_session_budget_whatever_the_route() -> None:
    """The lane and the Litestar middleware call this same method: N per second in all."""
    budgets = Budgets(per_session=3, per_ip=0, signin_per_minute=0)
    session = _bearer(_token())
    assert [budgets.take(session, "1.2.3.4", 0.0) for _ in range(3)] == [0.0] * 3
    assert budgets.take(session, "1.2.3.4", 0.0) > 0
    assert budgets.take(session, "5.6.7.8", 0.0) > 0  # a session is limited from any address
    assert budgets.take(b"Bearer another", "1.2.3.4", 0.0) == 0.0


def test_the_ip_budget_counts_every_session() -> None:
    budgets = Budgets(per_session=0, per_ip=2, signin_per_minute=0)
    assert budgets.take(b"Bearer a", "1.2.3.4", 0.0) == 0.0
    assert budgets.take(b"Bearer b", "1.2.3.4", 0.0) == 0.0
    assert budgets.take(b"Bearer c", "1.2.3.4", 0.0) > 0
    assert budgets.take(None, "1.2.3.4", 0.0) > 0
    assert budgets.take(b"Bearer c", "9.9.9.9", 0.0) == 0.0


def test_anonymous_clients_are_limited_by_address_and_no_header_can_pose_as_one() -> None:
    budgets = Budgets(per_session=1, per_ip=0, signin_per_minute=0)
    assert budgets.take(None, "1.2.3.4", 0.0) == 0.0
    assert budgets.take(None, "1.2.3.4", 0.0) > 0
    # A header spelling the address is a session of its own, not the anonymous client's.
    assert budgets.take(b"1.2.3.4", "5.5.5.5", 0.0) == 0.0
    assert budgets.take(None, "6.6.6.6", 0.0) == 0.0


def test_a_session_refusal_spends_nothing_from_the_ip_budget() -> None:
    budgets = Budgets(per_session=1, per_ip=3, signin_per_minute=0)
    assert budgets.take(b"Bearer a", "ip", 0.0) == 0.0
    for _ in range(5):
        assert budgets.take(b"Bearer a", "ip", 0.0) > 0
    assert budgets.take(b"Bearer b", "ip", 0.0) == 0.0
    assert budgets.take(b"Bearer c", "ip", 0.0) == 0.0


def test_sign_in_attempts_per_ip() -> None:
    budgets = Budgets(per_session=0, per_ip=0, signin_per_minute=2)
    assert budgets.take_signin("ip", 0.0) == 0.0
    assert budgets.take_signin("ip", 0.0) == 0.0
    assert 1 <= budgets.take_signin("ip", 0.0) <= 60
    assert budgets.take_signin("other", 0.0) == 0.0


# -- the refusal -----------------------------------------------------------------------------


@pytest.mark.parametrize(("wait", "retry_after"), [(0.001, "1"), (0.999, "1"), (1.5, "2")])
def test_the_429(wait: float, retry_after: str) -> None:
    error = rate_limited(wait)
    assert error.status == 429
    assert error.headers == {"Retry-After": retry_after}
    assert error_body(error) == (
        b'{"code":"RATE_LIMITED","message":"too many requests",'
        b'"error":{"code":"RATE_LIMITED","message":"too many requests"}}'
    )


def test_client_ip() -> None:
    assert client_ip(("10.0.0.1", 5555)) == "10.0.0.1"
    assert client_ip(None) == "?"
