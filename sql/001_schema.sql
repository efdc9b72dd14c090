-- webhookd schema: the client registry, what arrived, and what was refused (SPEC.md "Tables").
-- Applied by `webhookd migrate` in one transaction.

-- True when every element is 64 lower-case hex digits (SHA-256 fingerprints as SPEC formats them).
CREATE FUNCTION webhookd_all_sha256_hex(fingerprints text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(bool_and(f ~ '^[0-9a-f]{64}$'), true) FROM unnest(fingerprints) AS f
$$;

-- True when every element is a valid endpoint name or '*'.
CREATE FUNCTION webhookd_all_endpoint_names(names text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(bool_and(n ~ '^([A-Za-z0-9._-]{1,64}|\*)$'), true) FROM unnest(names) AS n
$$;

CREATE TABLE clients (
    client_id           text PRIMARY KEY CHECK (client_id <> '' AND length(client_id) <= 255),
    description         text NOT NULL DEFAULT '',
    enabled             boolean NOT NULL DEFAULT true,
    endpoints           text[] NOT NULL DEFAULT '{}' CHECK (webhookd_all_endpoint_names(endpoints)),
    pins_sha256         text[] NOT NULL DEFAULT '{}' CHECK (webhookd_all_sha256_hex(pins_sha256)),
    issuers_sha256      text[] NOT NULL DEFAULT '{}' CHECK (webhookd_all_sha256_hex(issuers_sha256)),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz,
    last_cert_not_after timestamptz
);

CREATE TABLE deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    received_at      timestamptz NOT NULL DEFAULT now(),
    client_id        text NOT NULL,
    endpoint         text NOT NULL,
    method           text NOT NULL,
    path             text NOT NULL,
    query            text,
    headers          jsonb NOT NULL DEFAULT '[]',
    content_type     text,
    body             bytea NOT NULL,
    body_json        jsonb,
    body_sha256      text NOT NULL,
    idempotency_key  text,
    cert_subject     text,
    cert_issuer      text,
    cert_serial      text,
    cert_sha256      text,
    cert_not_after   timestamptz,
    remote_addr      inet,
    tls_version      text,
    tls_cipher       text,
    processing_state text NOT NULL DEFAULT 'pending'
        CHECK (processing_state IN ('pending', 'claimed', 'done', 'failed')),
    claimed_at       timestamptz,
    processed_at     timestamptz
);

CREATE INDEX deliveries_received_at ON deliveries (received_at);
CREATE INDEX deliveries_client_received_at ON deliveries (client_id, received_at);
-- One stored delivery per (client, idempotency key), across endpoints and across receivers.
CREATE UNIQUE INDEX deliveries_client_idempotency_key ON deliveries (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Consumers claim pending deliveries in arrival order (FOR UPDATE SKIP LOCKED).
CREATE INDEX deliveries_pending ON deliveries (received_at) WHERE processing_state = 'pending';

CREATE TABLE rejections (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    stage        text NOT NULL CHECK (stage IN ('handshake', 'authorization')),
    reason       text NOT NULL,
    detail       text,
    remote_addr  inet,
    client_id    text,
    endpoint     text,
    cert_subject text,
    cert_issuer  text,
    cert_serial  text,
    cert_sha256  text
);

CREATE INDEX rejections_at ON rejections (at);

-- The first value of a request header, by case-insensitive name, from deliveries.headers
-- (a JSON array of [name, value] pairs in arrival order): webhookd_header(headers, 'content-type').
CREATE FUNCTION webhookd_header(headers jsonb, name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT pair ->> 1
    FROM jsonb_array_elements(headers) WITH ORDINALITY AS h(pair, position)
    WHERE lower(pair ->> 0) = lower(name)
    ORDER BY position
    LIMIT 1
$$;

-- Every value of a request header, in arrival order.
CREATE FUNCTION webhookd_header_values(headers jsonb, name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(pair ->> 1 ORDER BY position), '{}')
    FROM jsonb_array_elements(headers) WITH ORDINALITY AS h(pair, position)
    WHERE lower(pair ->> 0) = lower(name)
$$;

-- Registry changes reach running receivers through NOTIFY webhookd_clients (payload: the client id).
-- Only changes that affect authorization notify; last_seen_at bookkeeping does not.
CREATE FUNCTION webhookd_clients_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('webhookd_clients', OLD.client_id);
        RETURN OLD;
    END IF;
    PERFORM pg_notify('webhookd_clients', NEW.client_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER clients_notify_insert_delete AFTER INSERT OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION webhookd_clients_changed();
CREATE TRIGGER clients_notify_update AFTER UPDATE ON clients
    FOR EACH ROW
    WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled
          OR OLD.endpoints IS DISTINCT FROM NEW.endpoints
          OR OLD.pins_sha256 IS DISTINCT FROM NEW.pins_sha256
          OR OLD.issuers_sha256 IS DISTINCT FROM NEW.issuers_sha256
          OR OLD.client_id IS DISTINCT FROM NEW.client_id)
    EXECUTE FUNCTION webhookd_clients_changed();

-- updated_at follows every change to a client's configuration.
CREATE FUNCTION webhookd_clients_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER clients_touch BEFORE UPDATE ON clients
    FOR EACH ROW
    WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled
          OR OLD.endpoints IS DISTINCT FROM NEW.endpoints
          OR OLD.pins_sha256 IS DISTINCT FROM NEW.pins_sha256
          OR OLD.issuers_sha256 IS DISTINCT FROM NEW.issuers_sha256
          OR OLD.description IS DISTINCT FROM NEW.description)
    EXECUTE FUNCTION webhookd_clients_touch();

-- Each committed delivery notifies webhookd_deliveries with exactly its id, in the same transaction.
CREATE FUNCTION webhookd_deliveries_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhookd_deliveries', NEW.id::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries
    FOR EACH ROW EXECUTE FUNCTION webhookd_deliveries_notify();
