-- Optional indexes for people who search deliveries by JSON content, certificate or payload hash
-- (sql/queries/by_json_field.sql, by_certificate.sql, the duplicates view). Not a migration: `webhookd
-- migrate` never applies it, because every index is paid for by every stored delivery (issue 9). Everything
-- answers without them, by scanning; add them when the table is large and those searches are frequent:
--
--   psql "$DATABASE_URL" -f sql/optional/inspection_indexes.sql
--
-- CONCURRENTLY builds each index without blocking receivers' inserts (it cannot run inside a
-- transaction, so do not add --single-transaction); IF NOT EXISTS makes a second run a no-op. Remove
-- them again with DROP INDEX CONCURRENTLY deliveries_body_json; (and so on).
\set ON_ERROR_STOP on

-- Searches by JSON content (`body_json @> '{"type": "invoice.paid"}'`, `@?`, `@@`). jsonb_path_ops is
-- smaller and faster than the default jsonb_ops for containment, and does not support the key-exists
-- operators (?, ?|, ?&), which the recipes do not use.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_body_json ON deliveries USING gin (body_json jsonb_path_ops);

-- Payloads delivered more than once are found by their hash (the duplicates view).
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_client_body_sha256 ON deliveries (client_id, body_sha256);

-- What certificate delivered what: sql/queries/by_certificate.sql.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_cert_sha256 ON deliveries (cert_sha256);
