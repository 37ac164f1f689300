-- The credential store of the workers sharing this database (issue 27): one row per
-- credential (what a platform issued tokens to), keyed by its stable name
-- (`platform/app/subject`, never a secret), in the same database as the job store, so that
-- every worker of a batch refreshes a credential under one row lock and none keeps a copy
-- of its own.
--
-- Times are Unix milliseconds on the DATABASE's clock (`clock_timestamp()`), whatever the
-- clocks of the machines that wrote them: a worker rebases what its refresher measured on
-- its own clock before writing. The tokens themselves are only in `sealed` (the whole
-- `Tokens`, sealed with the workers' key); the expiries are in clear for listings and for
-- comparisons with the database's clock.
CREATE TABLE credentials (
    key                TEXT   PRIMARY KEY,
    platform           TEXT   NOT NULL,
    sealed             BYTEA  NOT NULL,
    access_expires_at  BIGINT,
    refresh_expires_at BIGINT,
    obtained_at        BIGINT NOT NULL,
    -- `ready`, or `reauthorize`: the platform refused the refresh token, and every worker
    -- must wait for `marketmedia accounts authorize` instead of presenting it again.
    state              TEXT   NOT NULL DEFAULT 'ready',
    -- Why, in the platform's words (never a secret), when `state` is not `ready`.
    state_message      TEXT,
    state_at           BIGINT,
    -- Refreshes committed since the credential was authorized (reports, tests).
    refreshes          BIGINT NOT NULL DEFAULT 0,
    updated_at         BIGINT NOT NULL
);

-- A refresh about to be sent, committed before the platform is called and deleted with the
-- commit of its answer: a row left here means a worker died (or lost the answer) after
-- sending a refresh, and the platform may have spent the refresh token it presented.
CREATE TABLE credential_refresh_intents (
    key        TEXT   PRIMARY KEY,
    started_at BIGINT NOT NULL,
    worker     TEXT   NOT NULL
);
