-- Up Migration
-- Who declares an organization, and organization deletion (issues 7 and 8).
-- An organization has one owner: a local ScimConfig file (owner_kind 'file', owner_ref the
-- file's path) or a Kubernetes ScimConfig (owner_kind 'kubernetes', owner_ref
-- 'namespace/name', owner_uid metadata.uid). null: created before ownership was recorded
-- (or by a test); the first declaration claims it.
-- deleted_at: the organization was deleted ("Delete Configuration": its file entry removed,
-- `scimsync org delete`, or its ScimConfig deleted). Its tokens are revoked in the same
-- transaction, SCIM answers 401 and the reconciler stops provisioning it. Declaring it again
-- clears deleted_at (new tokens must be issued).
alter table organizations
  add column owner_kind text check (owner_kind in ('file', 'kubernetes')),
  add column owner_ref text,
  add column owner_uid text,
  add column deleted_at timestamptz;

-- Who issued a token: 'cli' (scimsync token create) or 'operator' (the ScimConfig's Secret).
-- The operator only manages tokens it issued.
alter table scim_tokens
  add column issued_by text not null default 'cli' check (issued_by in ('cli', 'operator'));
