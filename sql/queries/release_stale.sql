-- Hands deliveries back to the queue ('pending') when a worker claimed them with claim.sql in its
-- own transaction and never marked them done: claimed longer ago than the given interval. Run it
-- from cron or by hand; pick an interval longer than any worker takes, or a slow worker's rows are
-- processed twice.
--
-- Variables (psql -v NAME=VALUE; the default applies when one is not given):
--   older_than  a PostgreSQL interval   default: 15 minutes
--
--   psql "$DATABASE_URL" -v older_than='1 hour' -f sql/queries/release_stale.sql
\set ON_ERROR_STOP on
\if :{?older_than}
\else
    \set older_than '15 minutes'
\endif

UPDATE deliveries
SET processing_state = 'pending', claimed_at = NULL
WHERE processing_state = 'claimed'
  AND claimed_at < now() - :'older_than'::interval
RETURNING id, client_id, endpoint, received_at;
