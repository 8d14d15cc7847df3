// Object storage with one monotonic resourceVersion counter across all kinds (etcd's revision),
// a bounded history of changes for watches, and fan-out to open watches.
// https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions
//   "Resource versions are strings that identify the server's internal version of an object" —
//   clients must treat them as opaque; the fake uses decimal integers like etcd does.
// https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
//   "A given Kubernetes server will only preserve a historical record of changes for a limited
//   time" → a watch from a version older than the retained history gets 410 Gone.
import type { Matcher } from './selectors.js';
import type { KObject, ResourceDef } from './resources.js';
import { clone } from './patch.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  rv: number;
  def: ResourceDef;
  type: WatchEventType;
  object: KObject; // state after the change (for DELETED: the last state, with the deletion's resourceVersion)
  old?: KObject; // state before (MODIFIED, DELETED)
}

/** One open watch (or any other listener) on a resource type. */
export interface Listener {
  def: ResourceDef;
  namespace?: string; // undefined: all namespaces
  match: Matcher;
  send(type: WatchEventType, object: KObject): void;
}

export function nsKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export function defKey(def: ResourceDef): string {
  return `${def.group}/${def.resource}`;
}

/**
 * Translates one change into what a filtered watch sees. A watch with a selector sees an object
 * that stops matching as DELETED and one that starts matching as ADDED (the watch cache's
 * filtering; api-concepts "Watch" with labelSelector/fieldSelector).
 */
export function filterChange(c: Change, match: Matcher): WatchEventType | undefined {
  const now = match(c.object);
  if (c.type === 'ADDED') return now ? 'ADDED' : undefined;
  const before = c.old ? match(c.old) : false;
  if (c.type === 'DELETED') return before || now ? 'DELETED' : undefined;
  if (now && before) return 'MODIFIED';
  if (now) return 'ADDED';
  if (before) return 'DELETED';
  return undefined;
}

export class Store {
  private rv: number;
  /** Changes with rv <= compactedRv are no longer in history. */
  private compactedRv: number;
  private history: Change[] = [];
  private readonly data = new Map<string, Map<string, KObject>>();
  readonly listeners = new Set<Listener>();

  constructor(
    private readonly maxHistory: number,
    startRv = 1000,
  ) {
    this.rv = startRv;
    this.compactedRv = startRv;
  }

  currentRv(): number {
    return this.rv;
  }
  /** Oldest resourceVersion a watch may still start from. */
  oldestRv(): number {
    return this.compactedRv;
  }
  nextRv(): number {
    return ++this.rv;
  }

  private bucket(def: ResourceDef): Map<string, KObject> {
    let b = this.data.get(defKey(def));
    if (!b) this.data.set(defKey(def), (b = new Map()));
    return b;
  }

  /** A copy of the stored object, or undefined. */
  get(def: ResourceDef, namespace: string | undefined, name: string): KObject | undefined {
    const o = this.bucket(def).get(nsKey(namespace, name));
    return o && clone(o);
  }

  /** Copies of the stored objects of a type, in one namespace or all, sorted by namespace/name like etcd keys. */
  list(def: ResourceDef, namespace?: string): KObject[] {
    const out: KObject[] = [];
    const keys = [...this.bucket(def).keys()].sort();
    for (const k of keys) {
      const o = this.bucket(def).get(k)!;
      if (namespace === undefined || o.metadata.namespace === namespace) out.push(clone(o));
    }
    return out;
  }

  /** Every stored object of every type (for the garbage collector). */
  *all(): Generator<{ def: ResourceDef; obj: KObject }> {
    for (const b of this.data.values()) for (const o of b.values()) yield { def: this.defs.get(o)!, obj: o };
  }
  private readonly defs = new WeakMap<KObject, ResourceDef>();

  /** Stores `obj` (already carrying its new resourceVersion) and tells history and listeners. */
  write(def: ResourceDef, type: 'ADDED' | 'MODIFIED', obj: KObject, old?: KObject): void {
    const stored = clone(obj);
    this.defs.set(stored, def);
    this.bucket(def).set(nsKey(obj.metadata.namespace, obj.metadata.name!), stored);
    this.record({ rv: Number(obj.metadata.resourceVersion), def, type, object: clone(obj), old });
  }

  /** Removes an object; `last` is its final state with the deletion's resourceVersion. */
  remove(def: ResourceDef, last: KObject, old: KObject): void {
    this.bucket(def).delete(nsKey(last.metadata.namespace, last.metadata.name!));
    this.record({ rv: Number(last.metadata.resourceVersion), def, type: 'DELETED', object: clone(last), old });
  }

  private record(c: Change): void {
    this.history.push(c);
    while (this.history.length > this.maxHistory) this.compactedRv = this.history.shift()!.rv;
    for (const l of [...this.listeners]) {
      if (defKey(l.def) !== defKey(c.def)) continue;
      if (l.namespace !== undefined && c.object.metadata.namespace !== l.namespace) continue;
      const t = filterChange(c, l.match);
      if (t) l.send(t, clone(c.object));
    }
  }

  /**
   * Changes of one type after `sinceRv`, or 'gone' when part of that range was compacted away
   * (api-concepts "410 Gone responses").
   */
  changesSince(def: ResourceDef, namespace: string | undefined, sinceRv: number): Change[] | 'gone' {
    if (sinceRv < this.compactedRv) return 'gone';
    return this.history.filter(
      (c) => c.rv > sinceRv && defKey(c.def) === defKey(def) && (namespace === undefined || c.object.metadata.namespace === namespace),
    );
  }

  /** Forgets all history, as etcd compaction does: every watch from an older version now gets 410. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }
}
