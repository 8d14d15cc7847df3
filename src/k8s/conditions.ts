// ScimConfig status conditions in metav1.Condition shape, a list keyed by type
// (kubebuilder good-practices; fluxcd/pkg apis/meta/conditions.go). lastTransitionTime moves
// only when status changes, so a condition that stays the same writes nothing new and emits
// no new Event.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  /** CamelCase, from the list in docs/operator.md. */
  reason: string;
  message: string;
  observedGeneration?: number;
  /** RFC 3339, seconds precision (metav1.Time). */
  lastTransitionTime: string;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

export const CONDITION_TYPES = ['Ready', 'TokenIssued', 'Synced', 'RevocationsHeld'] as const;

/** metav1.Time: RFC 3339 without fractional seconds. */
export const metaTime = (d: Date = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Merges the wanted conditions into the current list: a condition whose status is unchanged
 * keeps its lastTransitionTime; others not mentioned are kept as they are. Sorted by type for
 * a stable status (so equality checks and merge patches do not churn).
 */
export function setConditions(current: readonly Condition[] | undefined, wanted: readonly ConditionInput[], now: Date = new Date()): Condition[] {
  const byType = new Map((current ?? []).map((c) => [c.type, c]));
  for (const w of wanted) {
    const old = byType.get(w.type);
    const lastTransitionTime = old && old.status === w.status ? old.lastTransitionTime : metaTime(now);
    byType.set(w.type, { ...w, lastTransitionTime });
  }
  return [...byType.values()].sort((a, b) => a.type.localeCompare(b.type));
}

export const findCondition = (conditions: readonly Condition[] | undefined, type: string) => conditions?.find((c) => c.type === type);

/** True when the condition of this type has a new status or reason compared with before. */
export function conditionChanged(before: readonly Condition[] | undefined, after: readonly Condition[], type: string): boolean {
  const a = findCondition(before, type);
  const b = findCondition(after, type);
  return a?.status !== b?.status || a?.reason !== b?.reason;
}

/**
 * Ready, the summary: False with the first failing condition's reason (a False condition, or
 * RevocationsHeld True: both need an admin), else True. Synced Unknown (no full resync yet)
 * does not make it False: the endpoint and token work before the first pass.
 */
export function readyCondition(parts: readonly ConditionInput[], generation: number | undefined): ConditionInput {
  const failing = parts.find((p) => p.type !== 'RevocationsHeld' && p.status === 'False') ?? parts.find((p) => p.type === 'RevocationsHeld' && p.status === 'True');
  if (!failing) return { type: 'Ready', status: 'True', reason: 'Ready', message: 'organization claimed and its token issued', observedGeneration: generation };
  return { type: 'Ready', status: 'False', reason: failing.reason, message: failing.message, observedGeneration: generation };
}
