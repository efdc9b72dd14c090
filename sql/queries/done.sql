-- Marks deliveries claimed with claim.sql as processed ('done', processed_at set), or as 'failed'.
-- Only claimed rows change, so marking twice, or marking a row nobody claimed, changes nothing;
-- the ids that did change are returned.
--
-- Variables (psql -v NAME=VALUE; the default applies when one is not given):
--   ids    comma-separated delivery ids    required
--   state  done or failed                  default: done
--
--   psql "$DATABASE_URL" -v ids=0b6f8a4e-...,7d1c...  -f sql/queries/done.sql
\set ON_ERROR_STOP on
\if :{?ids}
\else
    \warn 'done.sql: give the claimed delivery ids with -v ids=UUID[,UUID...]'
    SELECT 'done.sql needs -v ids=UUID[,UUID...]'::integer;
\endif
\if :{?state}
\else
    \set state done
\endif

UPDATE deliveries
SET processing_state = :'state', processed_at = now()
WHERE id = ANY (string_to_array(:'ids', ',')::uuid[])
  AND processing_state = 'claimed'
  AND :'state' IN ('done', 'failed')
RETURNING id, processing_state, claimed_at, processed_at;
