-- Accounts (issue 24): several accounts of one marketplace (two Shopee shops, one Lazada
-- seller in two countries). A task's `marketplace` is now the name of its account (the
-- market it is claimed under), and `platform` the marketplace that account is of. Every
-- task written before was named after its marketplace, so `platform` starts as
-- `marketplace`: nothing is dropped or rewritten.
ALTER TABLE tasks ADD COLUMN platform TEXT NOT NULL DEFAULT '';
UPDATE tasks SET platform = marketplace;

-- Assets are found by content and account identity alone (an identity names its
-- marketplace, `shopee:<partner>:<shop>`), whatever the account is called: renaming an
-- account uploads nothing again.
CREATE INDEX assets_by_account ON assets (content_key, account);
