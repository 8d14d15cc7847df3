-- Audit trail (issue 10, docs/security.md): who changed what, when — never attribute values.
-- One row per SCIM write (POST/PUT/PATCH/DELETE of a User or Group) and per admin action
-- (token create/revoke, approve, organization delete, operator actions). organization_id is
-- not a foreign key: the record of an organization's deletion outlives the organization.
create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default clock_timestamp(),
  organization_id uuid,
  organization text not null,
  -- "token:<prefix>" for SCIM clients, "cli" for scimsync commands, "operator" for the Kubernetes operator
  actor text not null,
  -- e.g. "User.create", "Group.patch", "token.revoke", "holds.approve"
  operation text not null,
  resource_id text,
  request_id text
);
create index audit_log_org_at on audit_log (organization, at desc, id desc);
create index audit_log_at on audit_log (at);
