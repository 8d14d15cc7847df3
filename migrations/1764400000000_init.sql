-- Up Migration
-- scimsync desired-state schema. Up-only: never edit once landed, add a new file instead.

create table organizations (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  -- the ScimConfig spec the organization was last configured with (local YAML or the CRD)
  spec jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Bearer tokens: only a SHA-256 hash of the secret is kept; prefix identifies a token in listings.
create table scim_tokens (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id) on delete cascade,
  prefix text not null unique,
  token_hash bytea not null,
  description text,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz
);
create index scim_tokens_organization_idx on scim_tokens (organization_id);

-- SCIM users. resource holds the normalised SCIM representation (no id/meta/groups);
-- the columns are what filters, uniqueness and the reconciler need indexed.
-- deleted_at marks a tombstone: the reconciler must still know a deleted user was managed.
create table scim_users (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id) on delete cascade,
  user_name text not null,
  external_id text,
  display_name text,
  active boolean not null default true,
  resource jsonb not null,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  last_modified timestamptz not null default now(),
  deleted_at timestamptz
);
-- userName is unique per organization, case-insensitively (RFC 7643 §4.1.1: caseExact false, uniqueness server)
create unique index scim_users_user_name_idx on scim_users (organization_id, lower(user_name)) where deleted_at is null;
create index scim_users_external_id_idx on scim_users (organization_id, external_id) where deleted_at is null;
create index scim_users_list_idx on scim_users (organization_id, created_at, id) where deleted_at is null;
create index scim_users_tombstone_idx on scim_users (organization_id, lower(user_name)) where deleted_at is not null;

create table scim_groups (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id) on delete cascade,
  display_name text not null,
  external_id text,
  resource jsonb not null default '{}'::jsonb,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  last_modified timestamptz not null default now()
);
create index scim_groups_display_name_idx on scim_groups (organization_id, lower(display_name));
create index scim_groups_external_id_idx on scim_groups (organization_id, external_id);
create index scim_groups_list_idx on scim_groups (organization_id, created_at, id);

-- Group membership is a table so that a group of 100,000 members is patched row by row.
create table scim_group_members (
  group_id uuid not null references scim_groups (id) on delete cascade,
  member_id uuid not null,
  member_type text not null default 'User' check (member_type in ('User', 'Group')),
  organization_id uuid not null references organizations (id) on delete cascade,
  added_at timestamptz not null default now(),
  primary key (group_id, member_id)
);
create index scim_group_members_member_idx on scim_group_members (member_id);

-- "Needs reconciling" markers, written in the same transaction as the SCIM change
-- (DESIGN.md: write and enqueue in one transaction). A row is a key, never a payload:
-- user_id null means the whole organization. changed_at is the time of the earliest change
-- not yet reconciled, taken with clock_timestamp() as the last statement before commit;
-- revision lets a worker finishing an item tell whether a newer change arrived meanwhile.
create table reconcile_queue (
  id bigserial primary key,
  organization_id uuid not null references organizations (id) on delete cascade,
  user_id uuid,
  changed_at timestamptz not null default clock_timestamp(),
  revision bigint not null default 1,
  run_at timestamptz not null default clock_timestamp(),
  attempts integer not null default 0,
  locked_by text,
  locked_at timestamptz,
  last_error text
);
create unique index reconcile_queue_key_idx
  on reconcile_queue (organization_id, coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid));
create index reconcile_queue_run_at_idx on reconcile_queue (run_at);
