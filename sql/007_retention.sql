-- Retention (issue 12): `webhookd retention` and `serve --retention-keep` delete old deliveries and
-- rejections, and may empty old bodies first. An emptied body keeps its row: body = '' (the column is
-- NOT NULL bytea, so the empty byte string), body_json = NULL, and body_purged_at says when; body_sha256
-- and every other column still describe what arrived. NULL body_purged_at: the body is as received.
ALTER TABLE deliveries ADD COLUMN body_purged_at timestamptz;

-- No new index: the retention scans read deliveries_received_at (deliveries.received_at) and
-- rejections_at (rejections.at) from 001_schema.sql, oldest first, in batches.
