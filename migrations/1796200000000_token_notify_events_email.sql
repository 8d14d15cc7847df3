-- Up Migration

-- Token cache invalidation (src/store/tokenCache.ts). Every change that can turn a verified
-- token into a refused one notifies in the same transaction, whichever code path makes it
-- (CLI revoke, the operator deleting an organization, SQL by hand): a revocation or expiry
-- change, a token row deleted (also by the cascade of an organization's deletion), an
-- organization deleted (soft: deleted_at, or the row) or renamed. NOTIFY is delivered on commit, never for a rollback.
create function scimsync_notify_token_change() returns trigger language plpgsql as $$
begin
  -- payload: the organization's id (informational; a process empties its whole cache)
  if tg_table_name = 'organizations' then
    perform pg_notify('scimsync_tokens', old.id::text);
  else
    perform pg_notify('scimsync_tokens', old.organization_id::text);
  end if;
  return null;
end
$$;
create trigger scim_tokens_notify after update of revoked_at, expires_at, token_hash, organization_id, prefix or delete
  on scim_tokens for each row execute function scimsync_notify_token_change();
create trigger organizations_notify after update of slug, deleted_at or delete
  on organizations for each row execute function scimsync_notify_token_change();

-- A full pass re-reads a member only if another pass wrote it since this one began
-- (reconcile.ts applyPlanned: organization, email, at ≥ pass start). Without this index that
-- lookup scanned the organization's whole event history once per planned operation.
create index reconcile_events_email_idx on reconcile_events (organization_id, email, at);
