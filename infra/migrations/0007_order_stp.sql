-- Each order's self-trade prevention (Backpack's order objects report it: selfTradePrevention).
-- Orders stored before it read as cancel_taker, the default.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS stp TEXT NOT NULL DEFAULT 'cancel_taker';
