"""Colours and the page's style sheet (one dark theme), shared by figures and layout.

The CSS is served inline through the page template rather than from the ``assets/`` folder
(which holds only the browser's scripts, ``live.js`` and ``market_view.js``, installed as package
data).
"""

from __future__ import annotations

__all__ = ["ACCENT", "BACKGROUND", "CSS", "DOWN", "GRID", "MUTED", "PANEL", "TEXT", "UP"]

BACKGROUND = "#0b0e11"
PANEL = "#161a1e"
GRID = "#2b3139"
TEXT = "#eaecef"
MUTED = "#848e9c"
UP = "#0ecb81"
DOWN = "#f6465d"
ACCENT = "#f0b90b"

CSS = f"""
:root {{ --Dash-Fill-Inverse-Strong: {BACKGROUND}; --Dash-Text-Strong: {TEXT};
  --Dash-Text-Primary: {TEXT}; --Dash-Text-Weak: {MUTED}; --Dash-Stroke-Strong: {GRID};
  --Dash-Stroke-Weak: {GRID}; --Dash-Fill-Interactive-Strong: {ACCENT};
  --Dash-Fill-Interactive-Weak: {GRID}; --Dash-Fill-Primary-Hover: {GRID};
  --Dash-Fill-Primary-Active: {GRID}; --Dash-Shading-Weak: rgba(0, 0, 0, .3);
  --Dash-Shading-Strong: rgba(0, 0, 0, .5); }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: {BACKGROUND}; color: {TEXT};
  font: 13px/1.4 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }}
.mono, td, .ticker-value {{ font-variant-numeric: tabular-nums; }}
.header {{ display: flex; align-items: center; gap: 18px; padding: 8px 16px;
  background: {PANEL}; border-bottom: 1px solid {GRID}; flex-wrap: wrap; }}
.brand {{ font-weight: 700; font-size: 18px; color: {ACCENT}; letter-spacing: .5px; }}
.market-select {{ min-width: 150px; }}
.dash-dropdown-wrapper {{ min-width: 150px; }}
.ticker {{ display: flex; gap: 22px; flex-wrap: wrap; }}
.ticker-item {{ display: flex; flex-direction: column; }}
.ticker-label {{ color: {MUTED}; font-size: 11px; }}
.ticker-value {{ font-weight: 600; }}
.ticker-item:first-child .ticker-value {{ font-size: 17px; }}
.up {{ color: {UP}; }} .down {{ color: {DOWN}; }} .flat {{ color: {TEXT}; }}
.muted {{ color: {MUTED}; }}
.banner {{ background: {DOWN}; color: #fff; padding: 8px 16px; font-weight: 600;
  text-align: center; }}
.tabs-bar {{ background: {PANEL}; border-bottom: 1px solid {GRID}; }}
.tabs-bar {{ width: auto !important; }}
.tab {{ background: {PANEL} !important; color: {MUTED} !important; border: none !important;
  padding: 8px 18px !important; flex: 0 0 auto !important; width: auto !important;
  border-bottom: 2px solid transparent !important; }}
.tab--selected {{ color: {TEXT} !important; border-bottom: 2px solid {ACCENT} !important; }}
.grid {{ display: grid; grid-template-columns: minmax(0, 1fr) 290px 340px; gap: 8px;
  padding: 8px; }}
.panel {{ background: {PANEL}; border: 1px solid {GRID}; border-radius: 4px; padding: 8px;
  min-width: 0; }}
.panel h3 {{ margin: 0 0 6px; font-size: 13px; color: {MUTED}; font-weight: 600;
  text-transform: uppercase; letter-spacing: .6px; }}
.intervals label {{ display: inline-block; margin-right: 4px; padding: 2px 8px; cursor: pointer;
  color: {MUTED}; border-radius: 3px; }}
.intervals input {{ display: none; }}
.intervals label:has(input:checked) {{ color: {ACCENT}; background: {GRID}; }}
table {{ width: 100%; border-collapse: collapse; }}
th {{ color: {MUTED}; font-weight: 500; text-align: right; padding: 2px 4px; font-size: 11px; }}
td {{ text-align: right; padding: 1px 4px; white-space: nowrap; }}
th:first-child, td:first-child {{ text-align: left; }}
.ladder td {{ position: relative; }}
.ladder tr.ask {{ background-repeat: no-repeat; background-position: right; }}
.ladder tr.bid {{ background-repeat: no-repeat; background-position: right; }}
.ladder .mid td {{ padding: 5px 4px; font-size: 15px; font-weight: 700;
  border-top: 1px solid {GRID}; border-bottom: 1px solid {GRID}; }}
.tape {{ max-height: 430px; overflow-y: auto; }}
.empty {{ color: {MUTED}; text-align: center; padding: 20px 0; }}
.form-row {{ display: flex; gap: 6px; margin-bottom: 6px; align-items: center; }}
.form-row > * {{ flex: 1; min-width: 0; }}
input[type=text], input[type=password] {{ background: {BACKGROUND}; color: {TEXT};
  border: 1px solid {GRID}; border-radius: 3px; padding: 6px 8px; width: 100%; }}
button {{ background: {GRID}; color: {TEXT}; border: none; border-radius: 3px; padding: 7px 10px;
  cursor: pointer; font-weight: 600; }}
button:hover {{ filter: brightness(1.2); }}
button.buy {{ background: {UP}; color: #0b0e11; }}
button.sell {{ background: {DOWN}; }}
button.small {{ padding: 2px 8px; font-size: 11px; }}
.side-toggle label, .type-toggle label {{ display: inline-block; padding: 4px 12px;
  cursor: pointer; color: {MUTED}; border-radius: 3px; }}
.side-toggle input, .type-toggle input {{ display: none; }}
.side-toggle label:has(input[value=buy]:checked) {{ background: {UP}; color: #0b0e11; }}
.side-toggle label:has(input[value=sell]:checked) {{ background: {DOWN}; color: #fff; }}
.type-toggle label:has(input:checked) {{ background: {GRID}; color: {TEXT}; }}
.message {{ min-height: 18px; margin: 4px 0; }}
.message.error {{ color: {DOWN}; }} .message.ok {{ color: {UP}; }}
.account-grid {{ display: grid; grid-template-columns: 1fr 1fr; gap: 8px; padding: 0 8px 8px; }}
.analytics-grid {{ display: grid; grid-template-columns: 1fr 1fr; gap: 8px; padding: 8px; }}
.analytics-grid > .panel:first-child {{ grid-column: 1 / -1; }}
.controls {{ display: flex; gap: 14px; align-items: center; flex-wrap: wrap; }}
.stats {{ display: flex; gap: 22px; flex-wrap: wrap; padding: 4px 0 8px; }}
"""
