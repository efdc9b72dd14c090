-- One delivery's body decoded as UTF-8 text, whatever its Content-Type; a body that is not valid
-- UTF-8 shows as NULL text, with its bytes as hex beside it.
--
-- Variables (psql -v NAME=VALUE; the default applies when one is not given):
--   id  the delivery id (uuid)   default: '' = the most recent delivery
--
--   psql "$DATABASE_URL" -v id=0b6f8a4e-5a3c-4a53-9d55-2f1a4b7c9e01 -f sql/queries/body_as_text.sql
\set ON_ERROR_STOP on
\if :{?id}
\else
    \set id ''
\endif

SELECT id,
       received_at,
       client_id,
       content_type,
       octet_length(body) AS body_bytes,
       webhookd_body_text(body) AS body_text,
       CASE WHEN webhookd_body_text(body) IS NULL THEN encode(body, 'hex') END AS body_hex
FROM deliveries
WHERE id = (
    SELECT coalesce(
        nullif(:'id', '')::uuid,
        (SELECT id FROM deliveries ORDER BY received_at DESC LIMIT 1)));
