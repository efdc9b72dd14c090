-- TRUNCATE fires no row trigger, so a receiver would keep authorizing from its old snapshot until the
-- next periodic refresh. Notify once per statement (empty payload: "everything changed").
CREATE FUNCTION webhookd_clients_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhookd_clients', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER clients_notify_truncate AFTER TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd_clients_truncated();
