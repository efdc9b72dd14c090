-- Registry audit trail (issue 12): every change to a client's row — by `webhookd clients`, by plain SQL,
-- by TRUNCATE — leaves one row here, written by triggers in the changing transaction (so a rolled-back
-- change leaves none). `actor` is the database user and the session's application name; the CLI sets it
-- to `webhookd clients <subcommand> (<OS user>)`. The receiver's bookkeeping (last_seen_at,
-- last_cert_not_after) is not a change of the registry and is not audited.
CREATE TABLE clients_audit (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    operation text NOT NULL CHECK (operation IN ('insert', 'update', 'delete', 'truncate')),
    client_id text NOT NULL,
    old       jsonb,
    new       jsonb
);
CREATE INDEX clients_audit_client ON clients_audit (client_id, id);

CREATE FUNCTION webhookd_audit_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT session_user || ' (' || coalesce(nullif(current_setting('application_name', true), ''), '-') || ')'
$$;

CREATE FUNCTION webhookd_clients_audited() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO clients_audit (actor, operation, client_id, new)
        VALUES (webhookd_audit_actor(), 'insert', NEW.client_id, to_jsonb(NEW));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO clients_audit (actor, operation, client_id, old, new)
        VALUES (webhookd_audit_actor(), 'update', NEW.client_id, to_jsonb(OLD), to_jsonb(NEW));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO clients_audit (actor, operation, client_id, old)
        VALUES (webhookd_audit_actor(), 'delete', OLD.client_id, to_jsonb(OLD));
    END IF;
    RETURN NULL;
END
$$;

-- TRUNCATE fires no row trigger; before it runs the rows are still there, so each gets its own audit row.
CREATE FUNCTION webhookd_clients_truncate_audited() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO clients_audit (actor, operation, client_id, old)
    SELECT webhookd_audit_actor(), 'truncate', c.client_id, to_jsonb(c) FROM clients AS c;
    RETURN NULL;
END
$$;

CREATE TRIGGER clients_audit_insert_delete AFTER INSERT OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION webhookd_clients_audited();
CREATE TRIGGER clients_audit_update AFTER UPDATE ON clients
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_seen_at' - 'last_cert_not_after' - 'updated_at')
          IS DISTINCT FROM (to_jsonb(NEW) - 'last_seen_at' - 'last_cert_not_after' - 'updated_at'))
    EXECUTE FUNCTION webhookd_clients_audited();
CREATE TRIGGER clients_audit_truncate BEFORE TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_clients_truncate_audited();

-- The trail is append-only: rows are never updated or deleted, whoever asks (the owner could drop these
-- triggers, which is itself a DDL change an operator's database log shows). Readers may see it.
CREATE FUNCTION webhookd_clients_audit_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'clients_audit is append-only: % is not allowed', lower(TG_OP)
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER clients_audit_no_update_delete BEFORE UPDATE OR DELETE ON clients_audit
    FOR EACH ROW EXECUTE FUNCTION webhookd_clients_audit_immutable();
CREATE TRIGGER clients_audit_no_truncate BEFORE TRUNCATE ON clients_audit
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_clients_audit_immutable();

REVOKE ALL ON clients_audit FROM PUBLIC;
GRANT SELECT ON clients_audit TO webhookd_reader;
