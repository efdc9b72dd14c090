-- webhookd write path (issue 9): keep a delivery in one heap row. Nothing here changes what is stored or
-- what a query answers.
--
-- A 1 KiB JSON delivery is about 2.9 KiB before compression (body, body_json, headers and the
-- certificate facts), over the 2 KiB TOAST threshold. With the default EXTENDED storage PostgreSQL then
-- compresses the wide values and, while the row is still over 2 KiB, moves the largest remaining
-- EXTENDED value out of line, down to 64-digit hashes: a second heap insert into the TOAST table, an
-- insert into its index and their WAL per moved value (`make bench`: 910 B per row in TOAST beside 1365 B
-- in the heap). With MAIN on every such column PostgreSQL still compresses (lz4, 003), the widest first,
-- and keeps values in the row unless the row would not fit in a page (about 8 KiB): large bodies still go
-- out of line. Applies to rows written from now on; no rewrite, and SET STORAGE takes only a SHARE
-- UPDATE EXCLUSIVE lock (inserts go on).
ALTER TABLE deliveries
    ALTER COLUMN client_id SET STORAGE MAIN,
    ALTER COLUMN endpoint SET STORAGE MAIN,
    ALTER COLUMN method SET STORAGE MAIN,
    ALTER COLUMN path SET STORAGE MAIN,
    ALTER COLUMN query SET STORAGE MAIN,
    ALTER COLUMN headers SET STORAGE MAIN,
    ALTER COLUMN content_type SET STORAGE MAIN,
    ALTER COLUMN body SET STORAGE MAIN,
    ALTER COLUMN body_json SET STORAGE MAIN,
    ALTER COLUMN body_sha256 SET STORAGE MAIN,
    ALTER COLUMN idempotency_key SET STORAGE MAIN,
    ALTER COLUMN cert_subject SET STORAGE MAIN,
    ALTER COLUMN cert_issuer SET STORAGE MAIN,
    ALTER COLUMN cert_serial SET STORAGE MAIN,
    ALTER COLUMN cert_sha256 SET STORAGE MAIN,
    ALTER COLUMN tls_version SET STORAGE MAIN,
    ALTER COLUMN tls_cipher SET STORAGE MAIN,
    ALTER COLUMN processing_state SET STORAGE MAIN,
    ALTER COLUMN signature_status SET STORAGE MAIN;
