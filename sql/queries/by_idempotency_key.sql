-- The delivery a client sent with a given idempotency key (webhook-id, X-GitHub-Delivery or
-- Idempotency-Key header). Keys are unique per client, so this is at most one row.
--
-- Variables (psql -v NAME=VALUE; the default applies when one is not given):
--   client  the client id (certificate CN)   default: acme
--   key     the idempotency key              default: evt_0001
--
--   psql "$DATABASE_URL" -v client=acme -v key=msg_2Lh9 -f sql/queries/by_idempotency_key.sql
\set ON_ERROR_STOP on
\if :{?client}
\else
    \set client acme
\endif
\if :{?key}
\else
    \set key evt_0001
\endif

SELECT id,
       received_at,
       endpoint,
       content_type,
       octet_length(body) AS body_bytes,
       processing_state,
       coalesce(jsonb_pretty(body_json), webhookd_body_text(body)) AS body
FROM deliveries
WHERE client_id = :'client'
  AND idempotency_key = :'key';
