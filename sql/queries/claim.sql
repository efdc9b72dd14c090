-- Claims up to N pending deliveries, oldest first, for one worker: each delivery is claimed by
-- exactly one worker, however many run this at the same time (FOR UPDATE SKIP LOCKED: a row another
-- worker is claiming is skipped, not waited for, and a row it has claimed is no longer 'pending').
--
-- Variables (psql -v NAME=VALUE; the default applies when one is not given):
--   n  most deliveries claimed   default: 10
--
-- Two ways to use it (docs/operations.md "Consuming deliveries"):
--  * In its own transaction (psql -f, autocommit): the rows become 'claimed' with claimed_at set;
--    process them, then mark them with done.sql. A worker that dies leaves them 'claimed';
--    release_stale.sql hands them back.
--  * Inside the worker's transaction (BEGIN; this statement; process; done.sql's UPDATE; COMMIT):
--    if the worker dies, the transaction rolls back and the rows are 'pending' again.
--
--   psql "$DATABASE_URL" -v n=5 -f sql/queries/claim.sql
\set ON_ERROR_STOP on
\if :{?n}
\else
    \set n 10
\endif

WITH next AS MATERIALIZED (
    SELECT id
    FROM deliveries
    WHERE processing_state = 'pending'
    ORDER BY received_at
    LIMIT :'n'::integer
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries AS d
SET processing_state = 'claimed', claimed_at = now()
FROM next
WHERE d.id = next.id AND d.processing_state = 'pending'
RETURNING d.id, d.received_at, d.client_id, d.endpoint, d.content_type, d.idempotency_key, d.body_json,
          webhookd_body_text(d.body) AS body_text;
