-- Tokens sealed at rest (issue 27, docs/security.md): a credential's whole tokens (access
-- token, refresh token, details) live in `sealed`, XChaCha20-Poly1305 under a key that is
-- never in this file (`MARKETMEDIA_SECRET_KEY` or `secret.key` beside it). The expiries stay
-- in their clear columns, for `marketmedia accounts`. `access_token`, `refresh_token` and
-- `details` are kept for older rows only: the store seals rows still in plaintext when it
-- opens (it holds the key, this migration does not), then writes '', NULL and 'null' there.
ALTER TABLE credentials ADD COLUMN sealed BLOB;
