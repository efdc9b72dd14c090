-- Per-client limits (hostile-load issue): connections open at once and a request rate with a burst.
-- NULL max_connections means the receiver's --client-max-connections; NULL rate means no rate limit.
ALTER TABLE clients
    ADD COLUMN max_connections integer CHECK (max_connections IS NULL OR max_connections > 0),
    ADD COLUMN rate_per_second double precision CHECK (rate_per_second IS NULL OR rate_per_second > 0),
    ADD COLUMN burst integer CHECK (burst IS NULL OR burst > 0);

-- Limit changes reach running receivers like every other authorization change.
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
          OR OLD.burst IS DISTINCT FROM NEW.burst)
    EXECUTE FUNCTION webhookd_clients_changed();
