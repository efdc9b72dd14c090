-- webhookd inspection kit: views for operators, a read-only role, and the index behind JSON searches
-- (issue 5 part 3). Applied by `webhookd migrate` in one transaction, after 001_schema.sql.
-- Recipes that use these live in sql/queries/ (run them with `psql -f`).

-- Searches by JSON content (`body_json @> '{"type": "invoice.paid"}'`, `@?`, `@@`) use this index.
-- jsonb_path_ops is smaller and faster than the default jsonb_ops for containment, and does not
-- support the key-exists operators (?, ?|, ?&), which the recipes do not use.
CREATE INDEX deliveries_body_json ON deliveries USING gin (body_json jsonb_path_ops);

-- Payloads delivered more than once are found by their hash.
CREATE INDEX deliveries_client_body_sha256 ON deliveries (client_id, body_sha256);

-- What certificate delivered what: sql/queries/by_certificate.sql.
CREATE INDEX deliveries_cert_sha256 ON deliveries (cert_sha256);

-- The body as text when it is valid UTF-8 (what a person wants to read), else NULL; the exact
-- bytes are always in deliveries.body. convert_from raises an error on invalid UTF-8 (and on NUL
-- bytes), so the error is the test.
CREATE FUNCTION webhookd_body_text(body bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN convert_from(body, 'UTF8');
EXCEPTION
    WHEN character_not_in_repertoire OR untranslatable_character THEN
        RETURN NULL;
END
$$;

-- The last 24 hours of deliveries, newest first, without the bodies' bytes.
-- `SELECT * FROM recent_deliveries LIMIT 20;`
CREATE VIEW recent_deliveries AS
SELECT id,
       received_at,
       client_id,
       endpoint,
       method,
       path,
       query,
       content_type,
       octet_length(body) AS body_bytes,
       body_json,
       idempotency_key,
       cert_sha256,
       remote_addr,
       processing_state
FROM deliveries
WHERE received_at > now() - interval '24 hours'
ORDER BY received_at DESC;

-- Volume per client and hour (every hour that had a delivery), newest first.
-- `SELECT * FROM deliveries_per_client_hour WHERE hour > now() - interval '1 day';`
CREATE VIEW deliveries_per_client_hour AS
SELECT date_trunc('hour', received_at) AS hour,
       client_id,
       count(*) AS deliveries,
       sum(octet_length(body)) AS body_bytes,
       array_agg(DISTINCT endpoint ORDER BY endpoint) AS endpoints,
       min(received_at) AS first_received_at,
       max(received_at) AS last_received_at
FROM deliveries
GROUP BY 1, 2
ORDER BY 1 DESC, 2;

-- Refusals in the last hour by stage and reason code (SPEC reason codes), most frequent first.
CREATE VIEW rejections_last_hour AS
SELECT stage,
       reason,
       count(*) AS rejections,
       count(DISTINCT remote_addr) AS peers,
       array_remove(array_agg(DISTINCT client_id), NULL) AS client_ids,
       max(at) AS last_at
FROM rejections
WHERE at > now() - interval '1 hour'
GROUP BY stage, reason
ORDER BY rejections DESC, stage, reason;

-- The same payload (same body_sha256) stored more than once for one client: a sender that retries
-- without an idempotency key, or with a new key each time. Deliveries repeated with the same key are
-- never stored twice (they are answered "duplicate": true), so they do not appear here.
CREATE VIEW duplicates AS
SELECT client_id,
       body_sha256,
       count(*) AS deliveries,
       array_agg(DISTINCT endpoint ORDER BY endpoint) AS endpoints,
       min(received_at) AS first_received_at,
       max(received_at) AS last_received_at,
       array_agg(id ORDER BY received_at) AS ids
FROM deliveries
GROUP BY client_id, body_sha256
HAVING count(*) > 1
ORDER BY last_received_at DESC;

-- Enabled clients that need attention: the last certificate they presented expires within 30 days
-- (or has expired), or they have not delivered for 7 days (never, for a client registered more than
-- 7 days ago). `reasons` says which.
CREATE VIEW clients_expiring AS
SELECT client_id,
       description,
       last_cert_not_after,
       last_cert_not_after - now() AS certificate_expires_in,
       last_seen_at,
       created_at,
       reasons
FROM (
    SELECT c.*,
           array_remove(ARRAY[
               CASE WHEN c.last_cert_not_after <= now() THEN 'certificate_expired'
                    WHEN c.last_cert_not_after <= now() + interval '30 days' THEN 'certificate_expires_soon'
               END,
               CASE WHEN c.last_seen_at IS NULL AND c.created_at <= now() - interval '7 days' THEN 'never_seen'
                    WHEN c.last_seen_at <= now() - interval '7 days' THEN 'not_seen_7_days'
               END
           ], NULL) AS reasons
    FROM clients AS c
    WHERE c.enabled
) AS checked
WHERE cardinality(reasons) > 0
ORDER BY last_cert_not_after NULLS LAST, client_id;

-- A read-only role for people and dashboards. Roles belong to the whole cluster, not to one
-- database, so another database migrated on the same server may have created it already, maybe at
-- this very moment (a concurrent CREATE ROLE fails with unique_violation once the other commits).
-- It cannot log in until an operator gives it a password (docs/operations.md):
--     ALTER ROLE webhookd_reader LOGIN;  \password webhookd_reader
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'webhookd_reader') THEN
        CREATE ROLE webhookd_reader NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;  -- created by a concurrent migration of another database: what we wanted
END
$$;

-- CONNECT on this database; the name comes from the server (%I quotes it), never from input.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO webhookd_reader', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO webhookd_reader;
GRANT SELECT ON clients, deliveries, rejections, webhookd_migrations TO webhookd_reader;
GRANT SELECT ON recent_deliveries, deliveries_per_client_hour, rejections_last_hour, duplicates, clients_expiring
    TO webhookd_reader;
-- Tables and views that later migrations create (as the same migrating role) are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO webhookd_reader;
