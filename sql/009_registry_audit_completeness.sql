-- Two gaps in the registry trail (issue 12), closed without editing an applied migration.

-- 1. updated_at follows every configuration change. 001's trigger listed its own columns, so the limits (005)
--    and signature settings (008) changed a client without touching updated_at. The condition is now the
--    audit trail's: any column except the receiver's bookkeeping.
DROP TRIGGER clients_touch ON clients;
CREATE TRIGGER clients_touch BEFORE UPDATE ON clients
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_seen_at' - 'last_cert_not_after' - 'updated_at')
          IS DISTINCT FROM (to_jsonb(NEW) - 'last_seen_at' - 'last_cert_not_after' - 'updated_at'))
    EXECUTE FUNCTION webhookd_clients_touch();

-- 2. Adding, replacing or removing a signature secret is a change of the client: one `update` row per
--    statement and client, with how many secrets it had before and after (`signature_secrets`), and for an
--    in-place UPDATE how many were replaced. Never the secret, nor a digest of it: the reader role can read
--    the trail, and a digest of a low-entropy GitHub secret could be searched offline.
CREATE FUNCTION webhookd_signature_secrets_audited() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO clients_audit (actor, operation, client_id, old, new)
        SELECT webhookd_audit_actor(), 'update', a.client_id,
               jsonb_build_object('signature_secrets', n.now - a.changed),
               jsonb_build_object('signature_secrets', n.now)
        FROM (SELECT client_id, count(*) AS changed FROM added GROUP BY client_id) AS a,
             LATERAL (SELECT count(*) AS now FROM client_signature_secrets AS s WHERE s.client_id = a.client_id) AS n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO clients_audit (actor, operation, client_id, old, new)
        SELECT webhookd_audit_actor(), 'update', r.client_id,
               jsonb_build_object('signature_secrets', n.now + r.changed),
               jsonb_build_object('signature_secrets', n.now)
        FROM (SELECT client_id, count(*) AS changed FROM removed GROUP BY client_id) AS r,
             LATERAL (SELECT count(*) AS now FROM client_signature_secrets AS s WHERE s.client_id = r.client_id) AS n;
    ELSIF TG_OP = 'UPDATE' THEN
        -- A renamed client's secrets move with it (008's follow trigger): that is the client's own rename,
        -- already audited on `clients`, so only rows whose client stays the same count here.
        INSERT INTO clients_audit (actor, operation, client_id, old, new)
        SELECT webhookd_audit_actor(), 'update', a.client_id,
               jsonb_build_object('signature_secrets', n.now),
               jsonb_build_object('signature_secrets', n.now, 'signature_secrets_replaced', a.changed)
        FROM (SELECT c.client_id, count(*) AS changed
              FROM added AS c JOIN removed AS p ON p.client_id = c.client_id AND p.position = c.position
              WHERE p.secret IS DISTINCT FROM c.secret
              GROUP BY c.client_id) AS a,
             LATERAL (SELECT count(*) AS now FROM client_signature_secrets AS s WHERE s.client_id = a.client_id) AS n;
    ELSIF TG_OP = 'TRUNCATE' THEN
        INSERT INTO clients_audit (actor, operation, client_id, old, new)
        SELECT webhookd_audit_actor(), 'update', s.client_id,
               jsonb_build_object('signature_secrets', count(*)), jsonb_build_object('signature_secrets', 0)
        FROM client_signature_secrets AS s GROUP BY s.client_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER client_signature_secrets_audit_insert AFTER INSERT ON client_signature_secrets
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_signature_secrets_audited();
CREATE TRIGGER client_signature_secrets_audit_delete AFTER DELETE ON client_signature_secrets
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_signature_secrets_audited();
CREATE TRIGGER client_signature_secrets_audit_update AFTER UPDATE ON client_signature_secrets
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_signature_secrets_audited();
-- Before TRUNCATE the rows are still there to be counted (as 006 does for `clients`).
CREATE TRIGGER client_signature_secrets_audit_truncate BEFORE TRUNCATE ON client_signature_secrets
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_signature_secrets_audited();
