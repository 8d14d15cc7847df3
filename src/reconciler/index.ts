// The reconciler: observe (desired.ts, targets) → diff (diff.ts, planStream.ts, pure merge)
// → apply (apply.ts, per-member locks) driven by the work queue (worker.ts; its statements in
// src/store/reconcileQueue.ts).
export { startReconciler, settingsFromConfig, type ReconcilerDeps, type ReconcilerSettings } from './worker.js';
export { reconcilerCommands, type CommandContext } from './commands.js';
export { diff, diffMember, applyPlanTo, type Plan, type DesiredEntry, type DiffPolicy } from './diff.js';
export { TerminalError } from './errors.js';
