"""Fire a Dash app's server-side callback the way the browser does, through Flask's test client.

``fire(app, "candles-chart.figure", {("tick", "n_intervals"): 1, ...})`` finds the callback
whose outputs include that prop in ``/_dash-dependencies``, posts to
``/_dash-update-component`` with the given input/state values (others ``None``), and returns
``{(id, prop): value}`` for the outputs the callback updated (``no_update`` ones are absent).
"""

from __future__ import annotations

import json
from typing import Any

from dash import Dash

__all__ = ["fire"]

Values = dict[tuple[str, str], Any]


def _outputs(spec: str) -> list[tuple[str, str]]:
    parts = spec.strip(".").split("...") if spec.startswith("..") else [spec]
    found = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        found.append((ident, prop.split("@")[0]))
    return found


def fire(app: Dash, output: str, values: Values, changed: tuple[str, str] | None = None) -> Values:
    """Run the callback that writes ``output`` ("id.prop") with ``values``; return its updates."""
    client = app.server.test_client()
    dependencies = client.get("/_dash-dependencies").get_json()
    wanted = tuple(output.rsplit(".", 1))
    dependency = next(d for d in dependencies if wanted in _outputs(d["output"]))

    def items(kind: str) -> list[dict[str, Any]]:
        return [
            {
                "id": d["id"],
                "property": d["property"],
                "value": values.get((d["id"], d["property"])),
            }
            for d in dependency[kind]
        ]

    inputs = items("inputs")
    trigger = changed or (inputs[0]["id"], inputs[0]["property"])
    outputs = [{"id": i, "property": p} for i, p in _outputs(dependency["output"])]
    payload = {
        "output": dependency["output"],
        "outputs": outputs if dependency["output"].startswith("..") else outputs[0],
        "inputs": inputs,
        "state": items("state"),
        "changedPropIds": [f"{trigger[0]}.{trigger[1]}"],
    }
    response = client.post("/_dash-update-component", json=payload)
    if response.status_code == 204:  # PreventUpdate
        return {}
    assert response.status_code == 200, response.get_data(as_text=True)
    body = json.loads(response.get_data(as_text=True))
    return {
        (ident, prop): value
        for ident, props in body["response"].items()
        for prop, value in props.items()
    }
