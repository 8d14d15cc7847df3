-- Up Migration
-- Reconciler state (issue 3). Up-only: add a new file for changes.

-- Full resyncs are queued as organization items flagged resync: they measure drift but are
-- not desired-state changes, so they feed no provisioning-latency observation.
alter table reconcile_queue add column resync boolean not null default false;

-- The reconciler streams desired members ordered by email in byte order (collate "C") and
-- merge-joins them with the target's pages; this index serves that keyset scan, tombstones included.
create index scim_users_reconcile_idx on scim_users (organization_id, (lower(user_name) collate "C"), id);

-- Emails the reconciler has granted, by the user they were granted for. A user renamed in the
-- IdP keeps a row under the old email here, so the old membership is revoked rather than
-- reported as unmanaged.
create table reconcile_managed_members (
  organization_id uuid not null references organizations (id) on delete cascade,
  email text collate "C" not null,
  user_id uuid,
  granted_at timestamptz not null default clock_timestamp(),
  primary key (organization_id, email)
);
create index reconcile_managed_members_user_idx on reconcile_managed_members (user_id);

-- Every operation the reconciler applied (or held, or skipped in dry-run), for `scimsync events`
-- and for the revocation guard's sliding window.
create table reconcile_events (
  id bigserial primary key,
  organization_id uuid not null references organizations (id) on delete cascade,
  email text not null,
  operation text not null check (operation in ('grant', 'update', 'revoke')),
  -- ok | error | terminal | held | dry-run
  result text not null,
  role text,
  teams text[],
  reason text,
  error text,
  -- desired-state commit → target confirmation; null for drift found by a resync
  latency_ms double precision,
  -- the target call(s) alone
  duration_ms double precision,
  approved boolean not null default false,
  worker text,
  at timestamptz not null default clock_timestamp()
);
create index reconcile_events_org_idx on reconcile_events (organization_id, at desc);
create index reconcile_events_guard_idx on reconcile_events (organization_id, at)
  where operation = 'revoke' and result = 'ok' and not approved;

-- Revocations held by the guard, one row per email; approved_at set by `scimsync approve`.
create table reconcile_holds (
  organization_id uuid not null references organizations (id) on delete cascade,
  email text collate "C" not null,
  reason text not null,
  held_at timestamptz not null default clock_timestamp(),
  approved_at timestamptz,
  primary key (organization_id, email)
);

-- Per-organization reconciler status: resync schedule, last full sync and its plan summary.
create table reconcile_status (
  organization_id uuid primary key references organizations (id) on delete cascade,
  next_resync_at timestamptz not null default clock_timestamp(),
  last_full_sync_at timestamptz,
  last_full_sync_seconds double precision,
  member_count integer,
  last_plan jsonb,
  last_error text
);

-- The reference membership table an application could use; the default target
-- (spec.target.type postgres without a connection) writes here, so `npm start` shows
-- grants and revocations. Emails are stored lowercased.
create table app_memberships (
  organization text not null,
  email text collate "C" not null,
  role text not null,
  teams text[] not null default '{}',
  display_name text,
  external_id text,
  updated_at timestamptz not null default now(),
  primary key (organization, email)
);
-- What the postgres connector pages and looks members up by (it lowercases the column itself).
create index app_memberships_reconcile_idx on app_memberships (organization, (lower(email) collate "C"));
