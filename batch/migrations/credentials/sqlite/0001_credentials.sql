-- The credential store (issue 26): one row per credential (what a platform issued tokens
-- to: an app plus a shop, merchant or seller), keyed by its stable name
-- (`platform/app/subject`, never a secret). Times are Unix milliseconds on the machine's
-- clock; expiries count from `obtained_at`, when the token request was sent. The file is
-- created 0600: the tokens are stored as the platforms issued them.
CREATE TABLE credentials (
    key TEXT PRIMARY KEY NOT NULL,
    platform TEXT NOT NULL,
    access_token TEXT NOT NULL,
    access_expires_at BIGINT,
    refresh_token TEXT,
    refresh_expires_at BIGINT,
    obtained_at BIGINT NOT NULL,
    -- Facts of the token answer that are not secret (JSON): Shopee's shop ids, Lazada's
    -- sellers per country.
    details TEXT NOT NULL DEFAULT 'null',
    -- Refreshes committed since the credential was authorized (reports, tests).
    refreshes BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
