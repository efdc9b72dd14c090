-- Deliveries whose JSON body contains a given JSON document (jsonb containment, served by the
-- deliveries_body_json GIN index of sql/optional/inspection_indexes.sql when an operator added it, else
-- by a scan): top-level fields, nested objects and array elements alike.
--
-- Variables (psql -v NAME=VALUE; the default applies when one is not given):
--   match  the JSON the body must contain   default: {"type": "invoice.paid"}
--   limit  most rows shown, newest first    default: 50
--
--   psql "$DATABASE_URL" -v match='{"data": {"customer": "cus_42"}}' -f sql/queries/by_json_field.sql
\set ON_ERROR_STOP on
\if :{?match}
\else
    \set match '{"type": "invoice.paid"}'
\endif
\if :{?limit}
\else
    \set limit 50
\endif

SELECT id,
       received_at,
       client_id,
       endpoint,
       idempotency_key,
       body_json
FROM deliveries
WHERE body_json @> :'match'::jsonb
ORDER BY received_at DESC
LIMIT :'limit'::integer;
