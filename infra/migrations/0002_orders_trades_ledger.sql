-- What the persist agent stores. Amounts are integers in the engine's units (ticks, lots,
-- atoms), so nothing is rounded on the way in; the API converts for people.

CREATE TABLE IF NOT EXISTS orders (
    order_id        BIGINT      PRIMARY KEY,
    user_id         BIGINT      NOT NULL,
    market          TEXT        NOT NULL,
    side            TEXT        NOT NULL,
    type            TEXT        NOT NULL,
    tif             TEXT        NOT NULL,
    price           BIGINT      NOT NULL,
    quantity        BIGINT      NOT NULL,
    quote_quantity  BIGINT      NOT NULL,
    post_only       BOOLEAN     NOT NULL,
    client_order_id TEXT,
    executed_qty    BIGINT      NOT NULL DEFAULT 0,
    executed_quote  BIGINT      NOT NULL DEFAULT 0,
    remaining       BIGINT      NOT NULL,
    status          TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_seq     BIGINT      NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_user_idx ON orders (user_id, created_at DESC);

CREATE TABLE IF NOT EXISTS trades (
    market          TEXT        NOT NULL,
    trade_id        BIGINT      NOT NULL,
    ts              TIMESTAMPTZ NOT NULL,
    price           BIGINT      NOT NULL,
    quantity        BIGINT      NOT NULL,
    quote_amount    BIGINT      NOT NULL,
    taker_side      TEXT        NOT NULL,
    maker_order_id  BIGINT      NOT NULL,
    taker_order_id  BIGINT      NOT NULL,
    maker_user_id   BIGINT      NOT NULL,
    taker_user_id   BIGINT      NOT NULL,
    maker_fee       BIGINT      NOT NULL,
    taker_fee       BIGINT      NOT NULL,
    seq             BIGINT      NOT NULL,
    PRIMARY KEY (market, trade_id, ts)
);
CREATE INDEX IF NOT EXISTS trades_market_ts_idx ON trades (market, ts DESC);

-- Every balance movement: one row per (shard, event seq, entry number). A balance is a SUM.
CREATE TABLE IF NOT EXISTS ledger (
    shard       TEXT        NOT NULL,
    seq         BIGINT      NOT NULL,
    entry       SMALLINT    NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    user_id     BIGINT      NOT NULL,
    asset       TEXT        NOT NULL,
    available   BIGINT      NOT NULL,
    locked      BIGINT      NOT NULL,
    kind        TEXT        NOT NULL,
    PRIMARY KEY (shard, seq, entry)
);
CREATE INDEX IF NOT EXISTS ledger_user_idx ON ledger (user_id, asset);
