// The dashboard's live data: one WebSocket from the browser to the edge's /ws.
//
// For the chosen market and interval it follows depth, trades, ticker and kline; after AUTH it
// follows the user's private stream (orders, fills, balances). It starts from one REST snapshot
// per kind, taken after the subscription is acknowledged (so no push is missed), and keeps the
// book by the documented depth procedure: skip diffs with u <= lastUpdateId, apply the rest in
// order, and take a new snapshot on a gap (a diff whose U is past lastUpdateId + 1). It hands
// the market to market_view.js, which draws it (the panels at once, the charts once a second at
// most), and the user's stream to Dash through a dcc.Store (the account's callbacks run in
// Python); it never polls. When the socket drops it says so and reconnects by itself,
// with backoff, then starts again from fresh snapshots.
//
// Prices and quantities stay decimal strings: they are compared exactly (decimalKey), never
// through a float.
(function () {
  "use strict";

  const DEPTH_LIMIT = 100;
  const TAPE = 40;
  const BARS = 120;
  const MAX_BACKOFF_MS = 5000;
  const CHART_MS = 1000; // the charts are redrawn at most this often (the panels, every frame)

  function decimalKey(text) {
    const [whole, fraction = ""] = text.split(".");
    return BigInt(whole + fraction.padEnd(18, "0"));
  }

  function sortedLevels(levels, descending) {
    const rows = Array.from(levels.entries());
    rows.sort((a, b) => {
      const x = decimalKey(a[0]);
      const y = decimalKey(b[0]);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    return rows.slice(0, DEPTH_LIMIT);
  }

  function publish(id, data) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, { data: data });
    }
  }

  class Live {
    constructor() {
      this.socket = null;
      this.target = null; // {config, market, interval, token}
      this.generation = 0; // bumped on every (re)connection: late answers of old ones are dropped
      this.backoff = 250;
      this.nextId = 1;
      this.waiting = new Map();
      this.reset();
      this.account = { version: 0, fills: [], balances: {} };
      this.scheduled = false;
      this.market = null; // the chosen market's entry of the market list (asset names)
      this.chartsAt = 0; // when the charts' store was last published
      this.chartsTimer = null;
    }

    reset() {
      this.book = { ready: false, lastUpdateId: 0, bids: new Map(), asks: new Map(), buffer: [] };
      this.trades = [];
      this.klines = [];
      this.ticker = null;
    }

    follow(config, market, interval, token, markets) {
      if (!config || !market || !interval) return;
      this.market = (markets || []).find((m) => m.symbol === market) || null;
      const key = JSON.stringify([market, interval, token || null]);
      if (this.target && this.target.key === key) {
        this.changed(); // the page may have mounted the panels again (a tab came back)
        return;
      }
      this.target = { config: config, market: market, interval: interval, token: token, key: key };
      this.connect();
    }

    status(text) {
      publish(this.target.config.statusStore, { state: text, at: Date.now() });
    }

    connect() {
      const generation = ++this.generation;
      if (this.socket) {
        this.socket.onclose = null;
        this.socket.close();
      }
      this.reset();
      this.waiting.clear();
      this.status("connecting");
      const socket = new WebSocket(this.target.config.ws);
      this.socket = socket;
      socket.onopen = () => this.start(generation).catch(() => socket.close());
      socket.onmessage = (message) => this.receive(generation, JSON.parse(message.data));
      socket.onclose = () => {
        if (generation !== this.generation) return;
        this.status("reconnecting");
        const wait = this.backoff;
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
        setTimeout(() => {
          if (generation === this.generation) this.connect();
        }, wait);
      };
    }

    request(method, params) {
      const id = this.nextId++;
      const answer = new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
      this.socket.send(JSON.stringify({ method: method, params: params, id: id }));
      return answer;
    }

    async rest(path) {
      const response = await fetch(this.target.config.api + path);
      if (!response.ok) throw new Error(path + ": " + response.status);
      return response.json();
    }

    async start(generation) {
      const { market, interval, token } = this.target;
      const streams = ["depth@" + market, "trades@" + market, "ticker@" + market,
        "kline." + interval + "@" + market];
      if (token) {
        await this.request("AUTH", [token]);
        streams.push("orders");
      }
      await this.request("SUBSCRIBE", streams);
      // Subscribed: every push from here on arrives, so the snapshots miss nothing.
      const bar = this.target.config.intervalsMs[interval];
      const since = Math.floor((Date.now() - BARS * bar) / 1000); // /klines takes seconds
      const [depth, trades, ticker, klines] = await Promise.all([
        this.rest("/depth?symbol=" + market + "&limit=" + DEPTH_LIMIT),
        this.rest("/trades?symbol=" + market + "&limit=" + TAPE),
        this.rest("/ticker?symbol=" + market),
        this.rest("/klines?symbol=" + market + "&interval=" + interval + "&startTime=" + since +
          "&limit=" + (BARS + 1)),
      ]);
      if (generation !== this.generation) return;
      this.loadDepth(depth);
      this.trades = trades.concat(this.trades).slice(0, TAPE);
      this.trades = dedupe(this.trades);
      this.ticker = this.ticker || restTicker(ticker);
      this.klines = mergeBars(klines.map(restBar), this.klines);
      this.backoff = 250;
      this.status("live");
      this.changed();
    }

    loadDepth(depth) {
      const book = this.book;
      book.bids = new Map(depth.bids.map((level) => [level[0], level[1]]));
      book.asks = new Map(depth.asks.map((level) => [level[0], level[1]]));
      book.lastUpdateId = Number(depth.lastUpdateId); // text in the snapshot, as Backpack's
      book.ready = true;
      const buffered = book.buffer;
      book.buffer = [];
      for (const diff of buffered) this.applyDepth(diff);
    }

    async resync(generation) {
      this.book.ready = false;
      this.book.buffer = [];
      const depth = await this.rest("/depth?symbol=" + this.target.market + "&limit=" + DEPTH_LIMIT);
      if (generation === this.generation) this.loadDepth(depth);
    }

    applyDepth(diff) {
      const book = this.book;
      if (!book.ready) {
        book.buffer.push(diff);
        return;
      }
      if (diff.u <= book.lastUpdateId) return; // already in the snapshot
      if (diff.U > book.lastUpdateId + 1) {
        // A gap: some diff was lost. Start again from a snapshot.
        book.buffer.push(diff);
        this.resync(this.generation).catch(() => this.socket.close());
        return;
      }
      for (const [price, quantity] of diff.b) {
        if (quantity === "0") book.bids.delete(price);
        else book.bids.set(price, quantity);
      }
      for (const [price, quantity] of diff.a) {
        if (quantity === "0") book.asks.delete(price);
        else book.asks.set(price, quantity);
      }
      book.lastUpdateId = diff.u;
    }

    receive(generation, message) {
      if (generation !== this.generation) return;
      if (message.id !== undefined && message.stream === undefined) {
        const waiter = this.waiting.get(message.id);
        if (waiter) {
          this.waiting.delete(message.id);
          if (message.error) waiter.reject(new Error(message.error.message));
          else waiter.resolve(message.result);
        }
        return;
      }
      const data = message.data;
      if (message.stream === "orders") {
        this.private(data);
        return;
      }
      if (data.e === "depth") this.applyDepth(data);
      else if (data.e === "trade") {
        this.trades = dedupe([{ id: data.t, price: data.p, quantity: data.q, timestamp: data.T,
          isBuyerMaker: data.m }].concat(this.trades)).slice(0, TAPE);
      } else if (data.e === "24hrTicker") {
        this.ticker = { symbol: data.s, firstPrice: data.o, lastPrice: data.c, high: data.h,
          low: data.l, priceChange: data.p, priceChangePercent: data.P, volume: data.v,
          quoteVolume: data.q, trades: data.n };
      } else if (data.e === "kline") {
        const k = data.k;
        this.klines = mergeBars(this.klines, [{ start: k.t, open: k.o, high: k.h, low: k.l,
          close: k.c, volume: k.v, quoteVolume: k.q, trades: k.n, closed: k.x }]);
      }
      this.changed();
    }

    private(data) {
      const account = this.account;
      if (data.e === "balance") {
        account.balances[data.asset] = { available: data.available, locked: data.locked };
      } else if (data.e === "fill") {
        account.fills = [data].concat(account.fills).slice(0, 20);
      }
      account.version += 1;
      publish(this.target.config.accountStore, {
        version: account.version, fills: account.fills, balances: account.balances,
        last: data,
      });
    }

    // What changed is drawn at the next frame: the panels at once, the charts (through the
    // live-market store) at most every CHART_MS, and once more after the last change.
    changed() {
      if (this.scheduled || !this.target) return;
      this.scheduled = true;
      requestAnimationFrame(() => {
        this.scheduled = false;
        const view = this.book.ready ? this.view() : null;
        window.tidewaterMarketView.drawPanels(this.target.config, this.market, view);
        if (view) this.chartsSoon();
      });
    }

    view() {
      const market = this.target.market;
      return {
        symbol: market,
        interval: this.target.interval,
        ticker: this.ticker,
        depth: {
          symbol: market,
          lastUpdateId: this.book.lastUpdateId,
          bids: sortedLevels(this.book.bids, true),
          asks: sortedLevels(this.book.asks, false),
        },
        trades: this.trades,
        klines: this.klines,
        at: Date.now(),
      };
    }

    chartsSoon() {
      if (this.chartsTimer !== null) return;
      const wait = Math.max(0, this.chartsAt + CHART_MS - Date.now());
      this.chartsTimer = setTimeout(() => {
        this.chartsTimer = null;
        this.chartsAt = Date.now();
        if (this.book.ready) publish(this.target.config.marketStore, this.view());
      }, wait);
    }
  }

  function dedupe(trades) {
    const seen = new Set();
    return trades.filter((trade) => (seen.has(trade.id) ? false : seen.add(trade.id)));
  }

  // A /klines bar in the pushes' terms: its start in ms (REST says "2026-01-05 00:01:00", UTC).
  function restBar(bar) {
    return { start: Date.parse(bar.start.replace(" ", "T") + "Z"), open: bar.open, high: bar.high,
      low: bar.low, close: bar.close, volume: bar.volume, quoteVolume: bar.quoteVolume,
      trades: Number(bar.trades), closed: bar.closed };
  }

  // REST's ticker is Backpack's: priceChangePercent a fraction with six places ("-0.031279"),
  // trades a string. The page shows the push's terms: a percentage to two places ("-3.13"),
  // rounded half-even, exactly (BigInt), and a number of trades.
  function restTicker(ticker) {
    return Object.assign({}, ticker, {
      priceChangePercent: fractionToPercent(ticker.priceChangePercent),
      trades: Number(ticker.trades),
    });
  }

  function fractionToPercent(text) {
    const negative = text.startsWith("-");
    const [whole, part = ""] = text.replace("-", "").split(".");
    const millionths = BigInt(whole + part.padEnd(6, "0").slice(0, 6));
    let cents = millionths / 100n;
    const rest = millionths % 100n;
    if (rest > 50n || (rest === 50n && cents % 2n === 1n)) cents += 1n;
    const digits = cents.toString().padStart(3, "0");
    return (negative && cents !== 0n ? "-" : "") + digits.slice(0, -2) + "." + digits.slice(-2);
  }

  function mergeBars(older, newer) {
    const byStart = new Map();
    for (const bar of older.concat(newer)) byStart.set(bar.start, bar);
    return Array.from(byStart.values()).sort((a, b) => a.start - b.start).slice(-(BARS + 1));
  }

  const live = new Live();
  window.tidewaterLive = live;
  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.tidewater = Object.assign({}, window.dash_clientside.tidewater, {
    follow: function (market, interval, session, tab, config, markets) {
      live.follow(config, market, interval, session && session.token, markets);
      return window.dash_clientside.no_update;
    },
  });
})();
