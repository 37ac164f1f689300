-- One task per (product, media, marketplace) of a batch, and the assets made so far, keyed
-- by content digest and marketplace account (idempotence across rows, batches and reruns).
CREATE TABLE tasks (
    id            BIGSERIAL PRIMARY KEY,
    batch         TEXT    NOT NULL,
    line          BIGINT  NOT NULL,
    sku           TEXT    NOT NULL,
    media         TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    marketplace   TEXT    NOT NULL,
    account       TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    content_key   TEXT    NOT NULL,
    fields        TEXT    NOT NULL DEFAULT '{}',
    state         TEXT    NOT NULL DEFAULT 'pending',
    session       TEXT,
    receipts      TEXT,
    handle        TEXT,
    asset_id      TEXT,
    urls          TEXT,
    reused        BIGINT  NOT NULL DEFAULT 0,
    error_kind    TEXT,
    error_message TEXT,
    attempts      BIGINT  NOT NULL DEFAULT 0,
    next_at       BIGINT  NOT NULL DEFAULT 0,
    lease_owner   TEXT,
    lease_until   BIGINT  NOT NULL DEFAULT 0,
    bytes_sent    BIGINT  NOT NULL DEFAULT 0,
    updated_at    BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (batch, sku, media, marketplace)
);
CREATE INDEX tasks_claim ON tasks (marketplace, state, next_at);
CREATE INDEX tasks_content ON tasks (content_key, marketplace, account);

CREATE TABLE assets (
    content_key TEXT   NOT NULL,
    marketplace TEXT   NOT NULL,
    account     TEXT   NOT NULL,
    asset_id    TEXT   NOT NULL,
    urls        TEXT   NOT NULL,
    created_by  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (content_key, marketplace, account)
);
