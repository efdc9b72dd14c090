-- Signatures per client on top of mTLS (issue 12): a client may sign its payloads with one of three schemes
-- (Standard Webhooks, GitHub, Stripe); the receiver checks them before storing and records the verdict.

-- The verdict for each stored delivery; NULL when the client has no signature scheme.
ALTER TABLE deliveries
    ADD COLUMN signature_status text CHECK (signature_status IN ('valid', 'invalid', 'missing', 'expired'));

-- Scheme and mode travel with the registry snapshot (and its NOTIFY reload); both set or both NULL.
ALTER TABLE clients
    ADD COLUMN signature_scheme text CHECK (signature_scheme IN ('standard-webhooks', 'github', 'stripe')),
    ADD COLUMN signature_mode text CHECK (signature_mode IN ('required', 'optional')),
    ADD CONSTRAINT clients_signature_scheme_and_mode CHECK ((signature_scheme IS NULL) = (signature_mode IS NULL));

-- The secrets live apart from `clients` so that the read-only role, which may read `clients`, never sees
-- them. Several rows per client while a secret is rotated: any one of them may match.
CREATE TABLE client_signature_secrets (
    -- No foreign key: 004's `TRUNCATE clients` must keep working; the triggers below follow the client instead.
    client_id text NOT NULL,
    position  integer NOT NULL CHECK (position >= 0),
    secret    bytea NOT NULL CHECK (length(secret) > 0),
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, position)
);

-- 002's default privileges grant SELECT on every new table to webhookd_reader: take it back here.
REVOKE ALL ON client_signature_secrets FROM PUBLIC;
REVOKE ALL ON client_signature_secrets FROM webhookd_reader;

-- Scheme and mode changes reach running receivers like every other authorization change (005's list plus
-- the two new columns).
DROP TRIGGER clients_notify_update ON clients;
CREATE TRIGGER clients_notify_update AFTER UPDATE ON clients
    FOR EACH ROW
    WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled
          OR OLD.endpoints IS DISTINCT FROM NEW.endpoints
          OR OLD.pins_sha256 IS DISTINCT FROM NEW.pins_sha256
          OR OLD.issuers_sha256 IS DISTINCT FROM NEW.issuers_sha256
          OR OLD.client_id IS DISTINCT FROM NEW.client_id
          OR OLD.max_connections IS DISTINCT FROM NEW.max_connections
          OR OLD.rate_per_second IS DISTINCT FROM NEW.rate_per_second
          OR OLD.burst IS DISTINCT FROM NEW.burst
          OR OLD.signature_scheme IS DISTINCT FROM NEW.signature_scheme
          OR OLD.signature_mode IS DISTINCT FROM NEW.signature_mode)
    EXECUTE FUNCTION webhookd_clients_changed();

-- A changed secret must reach running receivers within a second too: the registry channel with the client id,
-- like a `clients` change (row-level, so removing a client without secrets notifies once, from `clients`);
-- TRUNCATE notifies once with an empty payload ("reload"), as 004 does for `clients`.
CREATE TRIGGER client_signature_secrets_notify AFTER INSERT OR UPDATE OR DELETE ON client_signature_secrets
    FOR EACH ROW EXECUTE FUNCTION webhookd_clients_changed();
CREATE TRIGGER client_signature_secrets_notify_truncate AFTER TRUNCATE ON client_signature_secrets
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_clients_truncated();

-- A client's secrets follow it: removed with it (DELETE or TRUNCATE), renamed with it.
CREATE FUNCTION webhookd_clients_secrets_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM client_signature_secrets;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM client_signature_secrets WHERE client_id = OLD.client_id;
    ELSIF OLD.client_id IS DISTINCT FROM NEW.client_id THEN
        UPDATE client_signature_secrets SET client_id = NEW.client_id WHERE client_id = OLD.client_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER clients_secrets_follow AFTER DELETE OR UPDATE OF client_id ON clients
    FOR EACH ROW EXECUTE FUNCTION webhookd_clients_secrets_follow();
CREATE TRIGGER clients_secrets_follow_truncate AFTER TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_clients_secrets_follow();
