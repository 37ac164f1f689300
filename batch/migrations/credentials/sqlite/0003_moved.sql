-- Credentials moved to a shared store (issue 27): `marketmedia accounts move NAME --to
-- postgres://…` copies a credential's tokens into the workers' database and retires the copy
-- here, so that one credential has one source of truth. The tokens row is deleted; this row
-- says where they went (the location redacted: no password, no query values), so that any
-- later use of the credential from this file says so instead of refreshing a stale pair.
CREATE TABLE moved (
    key TEXT PRIMARY KEY NOT NULL,
    moved_to TEXT NOT NULL,
    moved_at BIGINT NOT NULL
);
