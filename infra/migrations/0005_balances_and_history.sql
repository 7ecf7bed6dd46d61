-- Each user's balance per asset, kept by the persist agent in the same transaction as the ledger
-- rows it sums (pipeline/persist.py): the private stream pushes these figures after each batch,
-- so a client can follow its balances from the stream alone. Filled from the ledger once here.
CREATE TABLE IF NOT EXISTS balances (
    user_id   BIGINT NOT NULL,
    asset     TEXT   NOT NULL,
    available BIGINT NOT NULL,
    locked    BIGINT NOT NULL,
    PRIMARY KEY (user_id, asset)
);
INSERT INTO balances (user_id, asset, available, locked)
SELECT user_id, asset, sum(available), sum(locked) FROM ledger GROUP BY user_id, asset
ON CONFLICT DO NOTHING;

-- A user's fills (GET /fills), newest first, as maker and as taker. Some TimescaleDB versions
-- refuse a new index on a hypertable with compression: the queries then scan, and still answer.
DO $$
BEGIN
    CREATE INDEX IF NOT EXISTS trades_maker_user_idx ON trades (maker_user_id, ts DESC);
    CREATE INDEX IF NOT EXISTS trades_taker_user_idx ON trades (taker_user_id, ts DESC);
EXCEPTION WHEN feature_not_supported OR object_not_in_prerequisite_state THEN
    RAISE NOTICE 'trades: no per-user indexes on this hypertable (%)', SQLERRM;
END
$$;
-- A user's orders in one market (GET /orders?market=), newest first.
CREATE INDEX IF NOT EXISTS orders_user_market_idx ON orders (user_id, market, created_at DESC);
