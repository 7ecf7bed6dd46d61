"""dash_app/edge_client.py: what the edge's answers and silences become."""

from __future__ import annotations

import httpx
import pytest

from dash_app.edge_client import EdgeClient, EdgeError, EdgeUnavailableError


def _client(handler: object) -> EdgeClient:
    return EdgeClient("http://edge.test/", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_requests_go_under_api_v1_with_the_callers_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"orderId": "7", "status": "new"})

    client = _client(handler)
    body = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "100.10",
            "quantity": "0.000100"}  # fmt: skip
    assert client.place_order("tok", body)["orderId"] == "7"
    request = seen[0]
    assert str(request.url) == "http://edge.test/api/v1/order"
    assert request.headers["Authorization"] == "Bearer tok"
    # The strings go out exactly as given (no float in between).
    assert b'"price":"100.10"' in request.content
    assert b'"quantity":"0.000100"' in request.content


def test_klines_window_parameters() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    assert _client(handler).klines("TATA_INR", "5m", start_ms=1000, limit=10) == []
    assert dict(seen[0].url.params) == {
        "symbol": "TATA_INR", "interval": "5m", "limit": "10", "startTime": "1000"
    }  # fmt: skip
    assert "Authorization" not in seen[0].headers


def test_a_refusal_carries_the_edges_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"code": "INSUFFICIENT_FUNDS", "message": "needs 100 INR atoms, 0 available"}
        return httpx.Response(400, json={"error": error})

    with pytest.raises(EdgeError) as caught:
        _client(handler).place_order("tok", {})
    assert (caught.value.status, caught.value.code) == (400, "INSUFFICIENT_FUNDS")
    assert caught.value.message == "needs 100 INR atoms, 0 available"


def test_a_refusal_without_a_json_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="nope")

    with pytest.raises(EdgeError) as caught:
        _client(handler).markets()
    assert (caught.value.code, caught.value.message) == ("HTTP_404", "Not Found")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_mean_unavailable(status: int) -> None:
    with pytest.raises(EdgeUnavailableError):
        _client(lambda request: httpx.Response(status, json={})).markets()


def test_no_answer_means_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(EdgeUnavailableError, match="ConnectError"):
        _client(handler).ticker("TATA_INR")


def test_a_timeout_means_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(EdgeUnavailableError):
        _client(handler).depth("TATA_INR")


def test_a_non_json_success_means_unavailable() -> None:
    with pytest.raises(EdgeUnavailableError, match="not JSON"):
        _client(lambda request: httpx.Response(200, text="<html>")).tickers()


def test_a_real_closed_port_means_unavailable() -> None:
    from infra.embedded import free_port

    client = EdgeClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(EdgeUnavailableError):
        client.markets()
