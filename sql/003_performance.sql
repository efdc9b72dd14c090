-- webhookd write path (issue 9): what each stored delivery costs PostgreSQL. Applied by `webhookd migrate`
-- in one transaction, after 002_inspection.sql. Nothing here changes what is stored or what a query answers.

-- TOAST compression with lz4 instead of pglz for the wide columns: a 1 KiB JSON body is stored twice
-- (body, body_json) beside its headers, which puts most rows over the TOAST threshold, and pglz was the
-- largest single cost of an INSERT. Only values written from now on are affected (old ones stay readable).
-- A server built without lz4 (or older than 14) keeps pglz: the migration still applies.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE deliveries ALTER COLUMN body SET COMPRESSION lz4, '
            'ALTER COLUMN body_json SET COMPRESSION lz4, ALTER COLUMN headers SET COMPRESSION lz4';
EXCEPTION
    WHEN feature_not_supported OR syntax_error THEN
        RAISE NOTICE 'lz4 TOAST compression is not available on this server; keeping pglz';
END
$$;

-- One NOTIFY per committed delivery, still with exactly its id and still in the inserting transaction,
-- from one trigger call per statement over its transition table instead of one PL/pgSQL call per row.
CREATE FUNCTION webhookd_deliveries_notify_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhookd_deliveries', id::text) FROM inserted_deliveries;
    RETURN NULL;
END
$$;

DROP TRIGGER deliveries_notify ON deliveries;
DROP FUNCTION webhookd_deliveries_notify();
CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS inserted_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_deliveries_notify_inserted();

-- Inspection-only indexes leave the write path: every insert paid for them, and only people's ad-hoc
-- searches used them. The views and sql/queries/ recipes answer without them (by scanning); an operator
-- who searches a large table by JSON content, certificate or payload hash adds them back with
--     psql "$DATABASE_URL" -f sql/optional/inspection_indexes.sql
-- (CREATE INDEX CONCURRENTLY IF NOT EXISTS: no write lock, and safe to run again).
-- Kept: the primary key, the idempotency index (SPEC: it decides duplicates), and the received_at,
-- (client_id, received_at) and pending indexes that `webhookd deliveries` and the claim recipe use.
DROP INDEX deliveries_body_json;
DROP INDEX deliveries_client_body_sha256;
DROP INDEX deliveries_cert_sha256;
