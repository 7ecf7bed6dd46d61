"""OWASP API2 (broken authentication): crafted JWTs, all refused.

Each token below names the victim (``sub`` = the victim's id) and is wrong in one way: no or a
foreign algorithm, a wrong, empty or short key, a key taken from a header, a claim missing,
expired or malformed, a tampered payload, or plain garbage. Every one must get 401 with the JSON
error body on ``GET /balances`` and on ``POST /order`` (through the fast lane and through the
Litestar route), and ``UNAUTHORIZED`` on the WebSocket's ``AUTH``, after which the private
``orders`` stream stays closed. Nothing may change in the victim's account.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
import websockets

from edge.ws import MAX_FRAME
from model.settings import DEV_JWT_SECRET
from tests.integration.edge.conftest import sign_up
from tests.security.conftest import LANES, Lane, snapshot
from tests.support.cluster import Cluster

SECRET = os.environ.get("TIDEWATER_JWT_SECRET") or DEV_JWT_SECRET
ATTACKER_KEY = b"an-attacker-chosen-key-of-forty-bytes!!!"
# The text of a public key (its content does not matter): the edge must never take a PEM, or
# anything a token brings along, for its HMAC key.
PUBLIC_PEM = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo
4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u
+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh
kd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ
0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg
cKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc
mwIDAQAB
-----END PUBLIC KEY-----
"""
BODY = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "1", "quantity": "1"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _part(value: dict[str, Any] | str) -> str:
    return _b64(value.encode() if isinstance(value, str) else json.dumps(value).encode())


def _hmac(
    header: dict[str, Any] | str,
    claims: dict[str, Any],
    key: bytes,
    digest: Callable[[], Any] = hashlib.sha256,
) -> str:
    """A token signed by hand (PyJWT refuses some of these keys, rightly)."""
    signing_input = f"{_part(header)}.{_part(claims)}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def _unsigned(header: dict[str, Any] | str, claims: dict[str, Any], signature: str = "") -> str:
    return f"{_part(header)}.{_part(claims)}.{signature}"


def _claims(victim: int, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(victim), "iat": now, "exp": now + 600}
    for name, value in changes.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


HS256 = {"alg": "HS256", "typ": "JWT"}
SECRET_BYTES = SECRET.encode()

#: name -> token, given the victim's id and a valid token of the attacker's own account.
FORGERIES: dict[str, Callable[[int, str], str]] = {
    "alg none": lambda v, _: _unsigned({"alg": "none", "typ": "JWT"}, _claims(v)),
    "alg None": lambda v, _: _unsigned({"alg": "None", "typ": "JWT"}, _claims(v)),
    "alg NONE": lambda v, _: _unsigned({"alg": "NONE", "typ": "JWT"}, _claims(v)),
    "alg nOnE": lambda v, _: _unsigned({"alg": "nOnE"}, _claims(v)),
    "alg none with a real signature kept": lambda v, own: _unsigned(
        {"alg": "none"}, _claims(v), own.rsplit(".", 1)[1]
    ),
    "alg none via pyjwt": lambda v, _: jwt.encode(_claims(v), None, algorithm="none"),
    "no alg at all": lambda v, _: _hmac({"typ": "JWT"}, _claims(v), SECRET_BYTES),
    "duplicate alg keys (HS256 then none)": lambda v, _: _unsigned(
        '{"alg":"HS256","alg":"none"}', _claims(v)
    ),
    "HS256 with a wrong key": lambda v, _: jwt.encode(_claims(v), ATTACKER_KEY, "HS256"),
    "HS384 with the right key": lambda v, _: _hmac(
        {"alg": "HS384"}, _claims(v), SECRET_BYTES, hashlib.sha384
    ),
    "HS512 with the right key": lambda v, _: _hmac(
        {"alg": "HS512"}, _claims(v), SECRET_BYTES, hashlib.sha512
    ),
    "RS256 header with a made-up signature": lambda v, _: _unsigned(
        {"alg": "RS256", "typ": "JWT"}, _claims(v), _b64(os.urandom(256))
    ),
    "RS256 header, HMAC-signed with the public key": lambda v, _: _hmac(
        {"alg": "RS256", "typ": "JWT"}, _claims(v), PUBLIC_PEM
    ),
    "HS256 keyed with a public key PEM": lambda v, _: _hmac(HS256, _claims(v), PUBLIC_PEM),
    "ES256 header": lambda v, _: _unsigned({"alg": "ES256"}, _claims(v), _b64(os.urandom(64))),
    "empty HMAC key": lambda v, _: _hmac(HS256, _claims(v), b""),
    "one-byte HMAC key": lambda v, _: _hmac(HS256, _claims(v), b"k"),
    "the secret's first half as key": lambda v, _: _hmac(
        HS256, _claims(v), SECRET_BYTES[: len(SECRET_BYTES) // 2]
    ),
    "empty signature": lambda v, _: _unsigned(HS256, _claims(v)),
    "signature of 'null'": lambda v, _: _unsigned(HS256, _claims(v), "bnVsbA"),
    "truncated signature": lambda v, _: _hmac(HS256, _claims(v), SECRET_BYTES)[:-6],
    "payload swapped under the attacker's own signature": lambda v, own: ".".join(
        (own.split(".")[0], _part(_claims(v)), own.split(".")[2])
    ),
    "the attacker's token with sub rewritten in place": lambda v, own: ".".join(
        (
            own.split(".")[0],
            _part({**jwt.decode(own, options={"verify_signature": False}), "sub": str(v)}),
            own.split(".")[2],
        )
    ),
    "expired": lambda v, _: _hmac(HS256, _claims(v, exp=int(time.time()) - 60), SECRET_BYTES),
    "without exp": lambda v, _: _hmac(HS256, _claims(v, exp=None), SECRET_BYTES),
    "exp as a string": lambda v, _: _hmac(HS256, _claims(v, exp="9999999999"), SECRET_BYTES),
    "not valid before an hour from now": lambda v, _: _hmac(
        HS256, _claims(v, nbf=int(time.time()) + 3600), SECRET_BYTES
    ),
    "without iat": lambda v, _: _hmac(HS256, _claims(v, iat=None), SECRET_BYTES),
    "without sub": lambda v, _: _hmac(HS256, _claims(v, sub=None), SECRET_BYTES),
    "sub as a JSON number": lambda v, _: _hmac(HS256, _claims(v, sub=v), SECRET_BYTES),
    "sub 0": lambda v, _: _hmac(HS256, _claims(v, sub="0"), SECRET_BYTES),
    "sub -1": lambda v, _: _hmac(HS256, _claims(v, sub="-1"), SECRET_BYTES),
    "sub not a number": lambda v, _: _hmac(HS256, _claims(v, sub="admin"), SECRET_BYTES),
    "sub with a leading space": lambda v, _: _hmac(HS256, _claims(v, sub=f" {v}"), SECRET_BYTES),
    "sub with a plus sign": lambda v, _: _hmac(HS256, _claims(v, sub=f"+{v}"), SECRET_BYTES),
    "sub in Arabic-Indic digits": lambda v, _: _hmac(
        HS256,
        _claims(v, sub=str(v).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))),
        SECRET_BYTES,
    ),
    "kid pointing at /dev/null, empty key": lambda v, _: _hmac(
        {**HS256, "kid": "../../../../../../dev/null"}, _claims(v), b""
    ),
    "kid with SQL in it": lambda v, _: _hmac(
        {**HS256, "kid": "x' UNION SELECT 'key"}, _claims(v), b"key"
    ),
    "jku to the attacker's key set": lambda v, _: _hmac(
        {**HS256, "jku": "http://evil.example/jwks.json"}, _claims(v), ATTACKER_KEY
    ),
    "jwk header carrying the attacker's key": lambda v, _: _hmac(
        {**HS256, "jwk": {"kty": "oct", "k": _b64(ATTACKER_KEY)}}, _claims(v), ATTACKER_KEY
    ),
    "x5u header": lambda v, _: _hmac(
        {**HS256, "x5u": "http://evil.example/cert.pem"}, _claims(v), ATTACKER_KEY
    ),
    "two segments": lambda v, _: f"{_part(HS256)}.{_part(_claims(v))}",
    "four segments": lambda v, own: own + ".AAAA",
    "header not JSON": lambda v, _: f"{_b64(b'not json')}.{_part(_claims(v))}.AAAA",
    "payload a JSON list": lambda v, _: f"{_part(HS256)}.{_b64(b'[1]')}.AAAA",
    "not base64": lambda v, _: "###.$$$.%%%",
    "garbage": lambda v, _: "not.a.token",
    "8 KB of garbage": lambda v, _: "A" * 8192,
}


@pytest.fixture(scope="module")
def parties(cluster: Cluster) -> tuple[dict[str, str], int, str]:
    """The victim (funded, so an order in its name would go through) and an attacker's token."""
    with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=30) as api:
        victim = sign_up(api, {"INR": "100000"})
        attacker = sign_up(api)
    victim_id = int(jwt.decode(victim["Authorization"].split()[1], SECRET, ["HS256"])["sub"])
    return victim, victim_id, attacker["Authorization"].split()[1]


def test_the_tokens_themselves_work(
    api: httpx.Client, parties: tuple[dict[str, str], int, str]
) -> None:
    """The control: properly signed tokens are accepted on every path the forgeries try."""
    victim, victim_id, _ = parties
    good = _hmac(HS256, _claims(victim_id), SECRET_BYTES)
    assert api.get("/balances", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    for name, lane in LANES.items():
        placed = api.post("/order", json=BODY, headers={"Authorization": f"Bearer {good}", **lane})
        assert placed.status_code == 200, (name, placed.text)
        assert api.delete(f"/order/{placed.json()['orderId']}", headers=victim).status_code == 200
    assert asyncio.run(_ws_auth(api, good)) == {"id": 1, "result": None}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forged_token_is_refused_everywhere(
    api: httpx.Client, parties: tuple[dict[str, str], int, str], name: str
) -> None:
    victim, victim_id, own = parties
    token = FORGERIES[name](victim_id, own)
    before = snapshot(api, victim)
    forged = {"Authorization": f"Bearer {token}"}

    _assert_unauthorized(api.get("/balances", headers=forged))
    lane: Lane
    for lane in LANES.values():
        _assert_unauthorized(api.post("/order", json=BODY, headers={**forged, **lane}))
    _assert_unauthorized(api.delete("/orders", headers=forged))
    if len(token) < MAX_FRAME:
        reply = asyncio.run(_ws_auth(api, token))
        assert reply["id"] == 1, reply
        assert reply["error"]["code"] == "UNAUTHORIZED", reply
    else:  # too big a frame to even read: the socket is closed
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            asyncio.run(_ws_auth(api, token))
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009

    assert snapshot(api, victim) == before


def test_a_token_outside_the_authorization_header_counts_for_nothing(
    api: httpx.Client, parties: tuple[dict[str, str], int, str]
) -> None:
    victim, _, _ = parties
    token = victim["Authorization"].split()[1]
    _assert_unauthorized(api.get("/balances", params={"token": token}))
    _assert_unauthorized(api.get("/balances", headers={"Cookie": f"token={token}"}))
    _assert_unauthorized(api.get("/balances", headers={"X-Auth-Token": token}))
    _assert_unauthorized(api.post("/order", json={**BODY, "token": token}))


def _assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def _ws_auth(api: httpx.Client, token: str) -> dict[str, Any]:
    """AUTH with ``token`` on a fresh socket; when refused, check ``orders`` stays closed."""
    url = str(api.base_url).replace("http://", "ws://").replace("/api/v1", "/ws")
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"method": "AUTH", "params": [token], "id": 1}))
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if "error" in reply:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["orders"], "id": 2}))
            refused = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert refused["error"]["code"] == "UNKNOWN_STREAM", refused
        return reply
