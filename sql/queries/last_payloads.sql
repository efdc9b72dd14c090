-- The payloads of a client's last N deliveries, newest first: pretty JSON, else the body as text,
-- else (binary) its size and hash.
--
-- Variables (psql -v NAME=VALUE; the default applies when one is not given):
--   client  the client id (certificate CN)   default: acme
--   n       how many deliveries               default: 10
--
--   psql "$DATABASE_URL" -v client=acme -v n=3 -f sql/queries/last_payloads.sql
\set ON_ERROR_STOP on
\if :{?client}
\else
    \set client acme
\endif
\if :{?n}
\else
    \set n 10
\endif

SELECT id,
       received_at,
       endpoint,
       content_type,
       coalesce(
           jsonb_pretty(body_json),
           webhookd_body_text(body),
           format('(binary, %s bytes, sha256 %s)', octet_length(body), body_sha256)) AS payload
FROM deliveries
WHERE client_id = :'client'
ORDER BY received_at DESC
LIMIT :'n'::integer;
