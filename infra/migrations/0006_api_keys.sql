-- API keys for programs (edge/apikeys.py): the public half of each user's ED25519 key pairs, as
-- the X-API-Key header carries it (base64 of 32 bytes). The private half never reaches us.
-- A revoked key keeps its row (and its revoked_at): its signatures are refused from then on.
CREATE TABLE IF NOT EXISTS api_keys (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id),
    public_key TEXT        NOT NULL UNIQUE,
    label      TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys (user_id);
