-- Up Migration

-- Room on each heap page for an updated row version (issue 11, scenario 9). A SCIM PATCH or
-- PUT rewrites a user's (or group's) row but changes no indexed column (id, organization_id,
-- userName, externalId, created_at, deleted_at), so Postgres can update it in place on its own
-- page — a HOT update (heap-only tuple): no new entry in any of the table's indexes. With the
-- default fillfactor of 100 a page has no room, and every update wrote the row to another page
-- and an entry into each of the 6 indexes of scim_users; in a directory larger than
-- shared_buffers those index pages are cold, and each first change after a checkpoint writes
-- them whole to the WAL. 85 leaves room for one new version of a typical user on each page.
-- Applies to pages filled from now on; VACUUM FULL (or pg_repack) repacks existing ones.
alter table scim_users set (fillfactor = 85);
alter table scim_groups set (fillfactor = 85);

-- Down Migration

alter table scim_users reset (fillfactor);
alter table scim_groups reset (fillfactor);
