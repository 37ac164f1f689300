-- Scale (issue 28): what the claim, `batch status` and `outstanding` need at 100,000 tasks.
--
-- The claim takes the first claimable task of an account in id order. With only
-- `tasks_claim (marketplace, state, next_at)` both back ends found every pending task of the
-- account and sorted them for each claim (SQLite: `USE TEMP B-TREE FOR ORDER BY`; PostgreSQL:
-- `Sort` under the `Limit`): a claim cost grew with the catalog. This index holds only the
-- tasks not final yet, in id order per account, so a claim reads from its front and stops at
-- the first it may take; finished tasks leave it. The claim's WHERE names the same state list
-- word for word (SQLite uses a partial index only when the query repeats its condition).
CREATE INDEX tasks_active ON tasks (marketplace, id)
    WHERE state IN ('pending', 'retry', 'waiting', 'running', 'processing');

-- `batch status` lists the failed tasks and those waiting for authorization, in id order:
-- found by state instead of by reading every task.
CREATE INDEX tasks_state ON tasks (state, id);
