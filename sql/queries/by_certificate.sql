-- What a client certificate delivered, by its SHA-256 fingerprint (as `webhookd certs inspect` or
-- `openssl x509 -noout -fingerprint -sha256` print it; colons and upper case are accepted).
-- First a summary of that certificate, then its deliveries, newest first.
--
-- Variables (psql -v NAME=VALUE; the default applies when one is not given):
--   sha256  the certificate fingerprint   default: '' = every certificate (summary per certificate)
--   limit   most deliveries listed         default: 50
--
--   psql "$DATABASE_URL" -v sha256=AB:CD:...:EF -f sql/queries/by_certificate.sql
\set ON_ERROR_STOP on
\if :{?sha256}
\else
    \set sha256 ''
\endif
\if :{?limit}
\else
    \set limit 50
\endif

SELECT cert_sha256,
       cert_subject,
       cert_issuer,
       cert_serial,
       max(cert_not_after) AS cert_not_after,
       array_agg(DISTINCT client_id) AS client_ids,
       array_agg(DISTINCT endpoint) AS endpoints,
       count(*) AS deliveries,
       min(received_at) AS first_received_at,
       max(received_at) AS last_received_at
FROM deliveries
WHERE :'sha256' = '' OR cert_sha256 = lower(replace(:'sha256', ':', ''))
GROUP BY cert_sha256, cert_subject, cert_issuer, cert_serial
ORDER BY last_received_at DESC;

SELECT id,
       received_at,
       client_id,
       endpoint,
       octet_length(body) AS body_bytes,
       idempotency_key,
       remote_addr
FROM deliveries
WHERE :'sha256' = '' OR cert_sha256 = lower(replace(:'sha256', ':', ''))
ORDER BY received_at DESC
LIMIT :'limit'::integer;
