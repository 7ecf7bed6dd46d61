// The market as the browser shows it, from what the live client (live.js) holds.
//
// The light panels (24 h ticker, order book ladder, trades tape) are drawn by live.js calling
// drawPanels at most once per frame, straight into their containers: a push reaches the page in
// the time the browser takes to draw it, with no trip through Dash's renderer or its server. The
// charts (candles, depth) are a clientside callback on the live-market store, which live.js
// publishes once a second at most: a Plotly redraw holds the page for 50-150 ms here, and a push
// that arrives meanwhile waits for it.
//
// Tables show the API's decimal strings as they came. The only arithmetic on money (the ladder's
// running totals and the spread) is exact, on scaled BigInts; a chart's values become floats at
// the last step, for plotting only, as a chart is not money. Colours, the Plotly template and the
// ids of the containers and of the order form come from the page's live config
// (dash_app/layout.py live_config), defined once in Python.
(function () {
  "use strict";

  const DASH = "—"; // shown where the API has no value (no trade yet in 24 h)
  const LEVELS = 12; // ladder rows per side
  const MIN_BARS_SHOWN = 40; // the chart spans at least this many bars, so a first bar is a candle
  const DEPTH_LEVELS_FRAMED = 20; // the depth chart frames the best levels of each side at first
  const NO_TRADES = "No trades yet";
  const NO_ORDERS = "No orders in the book";

  // --- exact decimals -------------------------------------------------------------------------

  // A decimal string as {units, scale}: "101.50" is {units: 10150n, scale: 2}.
  function decimal(text) {
    const negative = text.startsWith("-");
    const [whole, fraction = ""] = (negative ? text.slice(1) : text).split(".");
    const units = BigInt((whole || "0") + fraction);
    return { units: negative ? -units : units, scale: fraction.length };
  }

  function atScale(x, scale) {
    return x.units * 10n ** BigInt(scale - x.scale);
  }

  function plus(a, b) {
    const scale = Math.max(a.scale, b.scale);
    return { units: atScale(a, scale) + atScale(b, scale), scale: scale };
  }

  function minus(a, b) {
    return plus(a, { units: -b.units, scale: b.scale });
  }

  function decimalText(x) {
    const negative = x.units < 0n;
    let digits = (negative ? -x.units : x.units).toString();
    if (x.scale > 0) {
      digits = digits.padStart(x.scale + 1, "0");
      digits = digits.slice(0, -x.scale) + "." + digits.slice(-x.scale);
    }
    return (negative ? "-" : "") + digits;
  }

  function sign(text) {
    const x = decimal(text);
    return x.units > 0n ? 1 : x.units < 0n ? -1 : 0;
  }

  // [[price, quantity], ...] best first, with the running total from the best level, exact.
  function cumulative(levels) {
    let total = { units: 0n, scale: 0 };
    return levels.map(([price, quantity]) => {
      total = plus(total, decimal(quantity));
      return { price: price, quantity: quantity, total: decimalText(total), exact: total };
    });
  }

  // part / whole in percent with one decimal, for the width of a depth bar (0 when whole is 0).
  function share(part, whole) {
    const scale = Math.max(part.scale, whole.scale);
    const denominator = atScale(whole, scale);
    if (denominator <= 0n) return "0.0";
    const permille = (atScale(part, scale) * 1000n) / denominator;
    const capped = permille > 1000n ? 1000n : permille;
    return (capped / 10n).toString() + "." + (capped % 10n).toString();
  }

  function utcTime(ms) {
    return new Date(ms).toISOString().slice(11, 19);
  }

  // --- the panels, as DOM ------------------------------------------------------------------------
  //
  // Drawn straight into their containers (elements of the layout that no Dash callback writes),
  // not through Dash's renderer: a trade reaches the page in the time the browser takes to draw
  // it. React leaves the containers' children alone, as it never set them.

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "style") Object.assign(node.style, value);
      else if (name === "className") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value);
    }
    for (const child of [].concat(children === undefined ? [] : children)) {
      node.append(child);
    }
    return node;
  }

  function empty(message) {
    return el("div", { className: "empty" }, message);
  }

  function changeClass(change) {
    if (!/^-?\d+(\.\d*)?$/.test(change || "")) return "flat";
    const s = sign(change);
    return s > 0 ? "up" : s < 0 ? "down" : "flat";
  }

  // The 24 h ticker as (label, value) pairs, the API's strings unchanged.
  function tickerItems(ticker, base, quote) {
    const labels = ["Last price", "24h change", "24h high", "24h low",
      ("24h volume " + base).trim(), ("24h volume " + quote).trim(), "24h trades"];
    if (!ticker) return labels.map((label) => [label, DASH]);
    const plus = changeClass(ticker.priceChange) === "up" ? "+" : "";
    const values = [
      ticker.lastPrice || DASH,
      plus + ticker.priceChange + " (" + plus + ticker.priceChangePercent + "%)",
      ticker.high || DASH,
      ticker.low || DASH,
      ticker.volume,
      ticker.quoteVolume,
      String(ticker.trades),
    ];
    return labels.map((label, i) => [label, values[i]]);
  }

  function tickerBar(ticker, base, quote) {
    return tickerItems(ticker, base, quote).map(([label, value], index) => {
      let klass = "ticker-value";
      if (ticker && index < 2) klass += " " + changeClass(ticker.priceChange);
      return el("div", { className: "ticker-item" }, [
        el("span", { className: "ticker-label" }, label),
        el("span", { className: klass }, value),
      ]);
    });
  }

  function ladderRow(side, level, whole) {
    const color = side === "bid" ? "rgba(14, 203, 129, 0.16)" : "rgba(246, 70, 93, 0.16)";
    return el(
      "tr",
      {
        className: side,
        dataset: { side: side, price: level.price },
        title: "Click: take this price",
        style: {
          backgroundImage: "linear-gradient(" + color + ", " + color + ")",
          backgroundSize: share(level.exact, whole) + "% 100%",
          cursor: "pointer",
        },
      },
      [
        el("td", { className: side === "bid" ? "up" : "down" }, level.price),
        el("td", {}, level.quantity),
        el("td", { className: "muted" }, level.total),
      ],
    );
  }

  // The ladder: asks above (best nearest the middle), the last price and spread, bids below.
  function orderBook(depth, lastPrice) {
    const asks = cumulative(depth.asks.slice(0, LEVELS));
    const bids = cumulative(depth.bids.slice(0, LEVELS));
    let whole = { units: 0n, scale: 0 };
    for (const side of [asks, bids]) {
      if (side.length && minus(side[side.length - 1].exact, whole).units > 0n) {
        whole = side[side.length - 1].exact;
      }
    }
    const rows = asks.slice().reverse().map((level) => ladderRow("ask", level, whole));
    const spread = depth.asks.length && depth.bids.length
      ? decimalText(minus(decimal(depth.asks[0][0]), decimal(depth.bids[0][0])))
      : null;
    rows.push(el("tr", { className: "mid" }, [
      el("td", {}, lastPrice || DASH),
      el("td", { colspan: 2 }, spread ? "spread " + spread : ""),
    ]));
    for (const level of bids) rows.push(ladderRow("bid", level, whole));
    if (!asks.length && !bids.length) {
      rows.push(el("tr", {}, el("td", { colspan: 3, className: "empty" }, NO_ORDERS)));
    }
    const header = el("thead", {}, el("tr", {}, [
      el("th", {}, "Price"), el("th", {}, "Size"), el("th", {}, "Total"),
    ]));
    return el("table", { className: "ladder", id: "order-book-table" },
      [header, el("tbody", {}, rows)]);
  }

  // Recent trades, newest first: green when the taker bought, red when it sold.
  function tradesTape(trades, theme) {
    if (!trades.length) return empty(NO_TRADES);
    const header = el("thead", {}, el("tr", {}, [
      el("th", {}, "Price"), el("th", {}, "Size"), el("th", {}, "Time"),
    ]));
    const rows = trades.map((trade) => el("tr", { className: "trade-row" }, [
      el("td", { style: { color: trade.isBuyerMaker ? theme.down : theme.up } }, trade.price),
      el("td", {}, trade.quantity),
      el("td", { className: "muted" }, utcTime(trade.timestamp)),
    ]));
    return el("table", { id: "trades-table" }, [header, el("tbody", {}, rows)]);
  }

  // A click on a ladder row takes its price into the order form, with the side that trades
  // against it (an ask's price is one to buy at; a bid's, one to sell at).
  function takeOnClick(container, config) {
    if (container.dataset.takes) return;
    container.dataset.takes = "yes";
    container.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-price]");
      if (!row || !window.dash_clientside || !window.dash_clientside.set_props) return;
      window.dash_clientside.set_props(config.ids.price, { value: row.dataset.price });
      window.dash_clientside.set_props(config.ids.side,
        { value: row.dataset.side === "ask" ? "buy" : "sell" });
    });
  }

  // Draw the ticker, ladder and tape of `view` ({symbol, ticker, depth, trades}, or null before
  // the first snapshot: an empty ticker) into the page's containers, where they are shown.
  function drawPanels(config, market, view) {
    const ids = config.ids;
    const ticker = document.getElementById(ids.ticker);
    if (ticker) {
      ticker.replaceChildren(...tickerBar(view && view.ticker,
        market ? market.baseSymbol : "", market ? market.quoteSymbol : ""));
    }
    if (!view) return;
    const book = document.getElementById(ids.book);
    if (book) {
      const last = view.trades.length ? view.trades[0].price
        : view.ticker ? view.ticker.lastPrice : null;
      takeOnClick(book, config);
      book.replaceChildren(orderBook(view.depth, last));
    }
    const tape = document.getElementById(ids.tape);
    if (tape) tape.replaceChildren(tradesTape(view.trades, config.theme));
  }

  // --- Plotly figures -------------------------------------------------------------------------

  function baseLayout(theme, uirevision, height) {
    return {
      template: theme.template,
      paper_bgcolor: theme.panel,
      plot_bgcolor: theme.panel,
      font: { color: theme.text, size: 11 },
      margin: { l: 8, r: 56, t: 8, b: 24 },
      height: height,
      uirevision: uirevision,
      showlegend: false,
      hovermode: "x unified",
    };
  }

  function axis(theme, extra) {
    return Object.assign({ gridcolor: theme.grid, zerolinecolor: theme.grid,
      linecolor: theme.grid }, extra);
  }

  function emptyFigure(theme, message, uirevision, height) {
    const layout = baseLayout(theme, uirevision, height);
    layout.xaxis = { visible: false };
    layout.yaxis = { visible: false };
    layout.annotations = [{ text: message, xref: "paper", yref: "paper", x: 0.5, y: 0.5,
      showarrow: false, font: { size: 16, color: theme.muted } }];
    return { data: [], layout: layout };
  }

  // Candlesticks over volume bars (green when the bar closed at or above its open).
  function candlesFigure(klines, intervalMs, uirevision, theme) {
    const height = 420;
    if (!klines.length) return emptyFigure(theme, NO_TRADES, uirevision, height);
    const times = klines.map((k) => k.start);
    const last = klines[klines.length - 1].start;
    const first = Math.min(klines[0].start, last - (MIN_BARS_SHOWN - 1) * intervalMs);
    const range = [first - intervalMs, last + 2 * intervalMs];
    const rising = klines.map((k) => minus(decimal(k.close), decimal(k.open)).units >= 0n);
    // Plotly sizes candles by the smallest gap between x values: an empty bar at the next open
    // time makes that gap one interval, so a lone first bar is a candle, not a hairline.
    const price = {
      type: "candlestick",
      x: times.concat([last + intervalMs]),
      open: klines.map((k) => Number(k.open)).concat([null]),
      high: klines.map((k) => Number(k.high)).concat([null]),
      low: klines.map((k) => Number(k.low)).concat([null]),
      close: klines.map((k) => Number(k.close)).concat([null]),
      increasing: { line: { color: theme.up }, fillcolor: theme.up },
      decreasing: { line: { color: theme.down }, fillcolor: theme.down },
      name: "price",
      xaxis: "x",
      yaxis: "y",
    };
    const volume = {
      type: "bar",
      x: times,
      y: klines.map((k) => Number(k.volume)),
      width: intervalMs * 0.7,
      marker: { color: rising.map((up) => (up ? theme.up : theme.down)), opacity: 0.6 },
      name: "volume",
      xaxis: "x2",
      yaxis: "y2",
    };
    const layout = baseLayout(theme, uirevision, height);
    layout.xaxis = axis(theme, { type: "date", anchor: "y", domain: [0, 1], matches: "x2",
      showticklabels: false, rangeslider: { visible: false }, range: range });
    layout.yaxis = axis(theme, { anchor: "x", domain: [0.2628, 1], side: "right" });
    layout.xaxis2 = axis(theme, { type: "date", anchor: "y2", domain: [0, 1], range: range });
    layout.yaxis2 = axis(theme, { anchor: "x2", domain: [0, 0.2328], side: "right" });
    return { data: [price, volume], layout: layout };
  }

  // Cumulative bids (green, left) and asks (red, right) against price. The view frames the best
  // DEPTH_LEVELS_FRAMED levels of each side, so one far-away order does not squash the spread.
  function depthFigure(depth, uirevision, theme) {
    const height = 300;
    if (!depth.bids.length && !depth.asks.length) {
      return emptyFigure(theme, NO_ORDERS, uirevision, height);
    }
    const bids = cumulative(depth.bids);
    const asks = cumulative(depth.asks);
    const prices = bids.concat(asks).map((level) => Number(level.price));
    const highest = Math.max(...prices);
    // Each side runs on a little past its last level, so the deepest step shows as a step.
    const tail = (highest - Math.min(...prices)) * 0.05 || highest * 0.01;
    const bidX = bids.slice().reverse().map((level) => Number(level.price));
    const bidY = bids.slice().reverse().map((level) => Number(level.total));
    const askX = asks.map((level) => Number(level.price));
    const askY = asks.map((level) => Number(level.total));
    if (bids.length) {
      bidX.unshift(bidX[0] - tail);
      bidY.unshift(bidY[0]);
    }
    if (asks.length) {
      askX.push(askX[askX.length - 1] + tail);
      askY.push(askY[askY.length - 1]);
    }
    const trace = (x, y, color, fill, shape, name) => ({
      type: "scatter", x: x, y: y, mode: "lines", line: { color: color, shape: shape },
      fill: "tozeroy", fillcolor: fill, name: name,
    });
    const near = [];
    for (const side of [bids, asks]) {
      if (side.length) {
        near.push(Number(side[Math.min(side.length, DEPTH_LEVELS_FRAMED) - 1].price));
        near.push(Number(side[0].price));
      }
    }
    const top = Math.max(...near);
    const pad = (top - Math.min(...near)) * 0.05 || top * 0.01;
    const layout = baseLayout(theme, uirevision, height);
    layout.xaxis = axis(theme, { range: [Math.min(...near) - pad, top + pad],
      title: { text: "price", font: { color: theme.muted } } });
    layout.yaxis = axis(theme, { side: "right", title: { text: "cumulative quantity" } });
    return {
      data: [
        trace(bidX, bidY, theme.up, "rgba(14, 203, 129, 0.2)", "vh", "bids"),
        trace(askX, askY, theme.down, "rgba(246, 70, 93, 0.2)", "hv", "asks"),
      ],
      layout: layout,
    };
  }

  // --- the charts' callback ------------------------------------------------------------------

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.tidewater = Object.assign({}, window.dash_clientside.tidewater, {
    // Output: the candles and depth figures of what the live client last published.
    charts: function (data, config) {
      if (!data) {
        const noUpdate = window.dash_clientside.no_update;
        return [noUpdate, noUpdate];
      }
      return [
        candlesFigure(data.klines, config.intervalsMs[data.interval],
          data.symbol + ":" + data.interval, config.theme),
        depthFigure(data.depth, data.symbol, config.theme),
      ];
    },
  });
  // The live client draws the panels with it (and the tests, with what they hand it).
  window.tidewaterMarketView = { drawPanels: drawPanels };
})();
