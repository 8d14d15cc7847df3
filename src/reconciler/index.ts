// The reconciler: observe (desired.ts, targets) → diff (diff.ts, planStream.ts, pure merge)
// → apply (apply.ts; per-member locks in src/store/memberLocks.ts) driven by the work queue: the claim loop (loop.ts,
// settlement.ts) run by startReconciler (worker.ts), its statements the store's
// (src/store/reconcilerStore.ts).
export { startReconciler, settingsFromConfig, type ReconcilerDeps, type ReconcilerSettings } from './worker.js';
export { reconcilerCommands, type CommandContext } from './commands.js';
export { diff, diffMember, applyPlanTo, type Plan, type DesiredEntry, type DiffPolicy } from './diff.js';
export { TerminalError } from './errors.js';
