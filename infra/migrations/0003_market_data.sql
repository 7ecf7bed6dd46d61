-- Market data the Bytewax flow stores: OHLCV candles per market and interval (prices in ticks,
-- volume in lots, quote volume in quote atoms, open_time = the bar's start). The flow also
-- inserts trades (same rows as the persist agent, idempotent on the primary key); `trades`
-- itself comes from 0002_orders_trades_ledger.sql. Queries use date_bin, so they run the same
-- on TimescaleDB and on plain PostgreSQL.

CREATE TABLE IF NOT EXISTS candles (
    market       TEXT        NOT NULL,
    interval     TEXT        NOT NULL,
    open_time    TIMESTAMPTZ NOT NULL,
    open         BIGINT      NOT NULL,
    high         BIGINT      NOT NULL,
    low          BIGINT      NOT NULL,
    close        BIGINT      NOT NULL,
    volume       BIGINT      NOT NULL,
    quote_volume BIGINT      NOT NULL,
    trades       BIGINT      NOT NULL,
    closed       BOOLEAN     NOT NULL DEFAULT FALSE,
    PRIMARY KEY (market, interval, open_time)
);

-- TimescaleDB when the server has it: trades and candles become hypertables with compression
-- and retention. Without it (or when it is not preloaded) the plain tables serve the same
-- queries. The inner block is all-or-nothing: on any failure the plain tables stay as they are.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            PERFORM create_hypertable('trades', 'ts', chunk_time_interval => INTERVAL '1 day',
                                      if_not_exists => TRUE, migrate_data => TRUE);
            PERFORM create_hypertable('candles', 'open_time',
                                      chunk_time_interval => INTERVAL '30 days',
                                      if_not_exists => TRUE, migrate_data => TRUE);
            ALTER TABLE trades SET (timescaledb.compress,
                                    timescaledb.compress_segmentby = 'market',
                                    timescaledb.compress_orderby = 'ts DESC, trade_id DESC');
            ALTER TABLE candles SET (timescaledb.compress,
                                     timescaledb.compress_segmentby = 'market, interval',
                                     timescaledb.compress_orderby = 'open_time DESC');
            PERFORM add_compression_policy('trades', INTERVAL '7 days', if_not_exists => TRUE);
            PERFORM add_compression_policy('candles', INTERVAL '90 days', if_not_exists => TRUE);
            PERFORM add_retention_policy('trades', INTERVAL '365 days', if_not_exists => TRUE);
            PERFORM add_retention_policy('candles', INTERVAL '3650 days', if_not_exists => TRUE);
            RAISE NOTICE 'market data storage: TimescaleDB hypertables';
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'market data storage: plain tables (timescaledb unusable: %)', SQLERRM;
        END;
    ELSE
        RAISE NOTICE 'market data storage: plain tables (timescaledb not available)';
    END IF;
END
$$;
