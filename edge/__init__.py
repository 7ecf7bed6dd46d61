"""The edge: Litestar REST API (and WebSocket gateway) in front of the matchers."""
