-- Up Migration
-- Revocation-guard quota reserved by per-user passes (src/reconciler/guard.ts). A pass reserves
-- one revocation in a short transaction under the organization's guard lock and releases the
-- lock before it calls the target; the reservation is deleted in the same transaction that
-- records the revocation's event, so the window count (events + reservations) never misses an
-- in-flight revocation and never counts one twice. A reservation left by a crash counts until
-- it leaves the window (the safe direction) and is then deleted by the next reservation.
create table reconcile_guard_reservations (
  id bigserial primary key,
  organization_id uuid not null references organizations (id) on delete cascade,
  email text collate "C" not null,
  reserved_at timestamptz not null default clock_timestamp()
);
create index reconcile_guard_reservations_org_idx on reconcile_guard_reservations (organization_id, reserved_at);
