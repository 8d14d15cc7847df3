// The verbs on objects — create, update, patch, delete — with the server-side rules clients rely
// on. Each rule cites the Kubernetes documentation (or, where the docs are silent, the apiserver
// source file that implements it).
import { randomUUID } from 'node:crypto';
import { errors, type StatusCause } from './errors.js';
import { clone, deepEqual, jsonPatch, mergePatch } from './patch.js';
import { apiVersionOf, type KObject, type ResourceDef } from './resources.js';
import { Store, nsKey } from './store.js';

const API_CONCEPTS = 'https://kubernetes.io/docs/reference/using-api/api-concepts/';
void API_CONCEPTS;

/** RFC 3339 with second precision, as metav1.Time serializes. */
export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** generateName suffix: 5 characters of the apiserver's alphabet (k8s.io/apiserver/pkg/storage/names). */
function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type PatchType = 'merge' | 'json' | 'strategic';

export interface WriteOptions {
  /** ?dryRun=All: run every check, store nothing (api-concepts "Dry-run"). */
  dryRun?: boolean;
  /** ?fieldValidation= (api-concepts "Field validation"); the API's default is Warn. */
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  /** Collects Warning header texts of the write. */
  warnings?: string[];
}

export interface DeleteOptions extends WriteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface RegistryOptions {
  /** Delay before the garbage collector looks at dependents of a deleted owner (ms). */
  gcDelayMs: number;
}

/** Everything except metadata and status: what a generation bump looks at. */
function specPart(o: KObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

export class Registry {
  private gcTimer: NodeJS.Timeout | undefined;
  private gcWaiters: (() => void)[] = [];

  constructor(
    readonly store: Store,
    readonly defs: ResourceDef[],
    private readonly opts: RegistryOptions,
  ) {}

  def(resource: string): ResourceDef {
    const d = this.defs.find((x) => x.resource === resource || `${x.resource}.${x.group}` === resource);
    if (!d) throw new Error(`unknown resource ${resource}`);
    return d;
  }

  private namespacesDef(): ResourceDef {
    return this.def('namespaces');
  }

  private requireNamespace(def: ResourceDef, namespace: string | undefined, forCreate: boolean): void {
    if (!def.namespaced) return;
    if (!namespace) throw errors.badRequest('the server could not find the requested resource: a namespace is required');
    const ns = this.store.get(this.namespacesDef(), undefined, namespace);
    if (!ns) throw errors.namespaceNotFound(namespace);
    // https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/ — a terminating
    // namespace refuses new content (NamespaceLifecycle admission).
    if (forCreate && ns.metadata.deletionTimestamp) {
      throw errors.forbidden(`${def.resource} is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }

  private mustGet(def: ResourceDef, namespace: string | undefined, name: string): KObject {
    const cur = this.store.get(def, def.namespaced ? namespace : undefined, name);
    if (!cur) throw errors.notFound(def.resource, def.group, name);
    return cur;
  }

  get(def: ResourceDef, namespace: string | undefined, name: string): KObject {
    return this.mustGet(def, namespace, name);
  }

  private checkTypeMeta(def: ResourceDef, body: KObject): void {
    // The apiserver decodes the body against the URL's group/version/kind and refuses a mismatch.
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(def)) {
      throw errors.badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(def)})`);
    }
    if (body.kind !== undefined && body.kind !== def.kind) {
      throw errors.badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${def.kind})`);
    }
  }

  /**
   * Admission of one write: the CRD's schema (unknown fields, defaults, OpenAPI, CEL) for custom
   * resources, the type's own checks for built-ins, and the name; all field errors in one 422.
   */
  private validate(def: ResourceDef, obj: KObject, old: KObject | undefined, o: WriteOptions): void {
    const causes: StatusCause[] = [];
    if (def.admit) {
      const r = def.admit(obj, old, o.fieldValidation ?? 'Warn');
      o.warnings?.push(...r.warnings);
      causes.push(...r.causes);
    }
    const name = obj.metadata.name ?? '';
    if (!old && !dns1123Subdomain.test(name) && def.resource !== 'events') {
      causes.push({
        reason: 'FieldValueInvalid',
        field: 'metadata.name',
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      });
    }
    if (def.validate) causes.push(...def.validate(obj, old));
    if (causes.length) throw errors.invalid(def.kind, def.group, name, causes);
  }

  /** POST to a collection. https://kubernetes.io/docs/reference/using-api/api-concepts/#api-verbs */
  create(def: ResourceDef, namespace: string | undefined, body: KObject, o: WriteOptions = {}): KObject {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw errors.badRequest('Object is not a valid JSON object');
    const obj = clone(body);
    obj.metadata = obj.metadata && typeof obj.metadata === 'object' ? obj.metadata : {};
    this.checkTypeMeta(def, obj);
    if (def.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = namespace;
    } else delete obj.metadata.namespace;
    this.requireNamespace(def, namespace, true);
    // k8s.io/apiserver/pkg/storage/etcd3/store.go: "resourceVersion should not be set on objects to be created"
    if (obj.metadata.resourceVersion) throw errors.internal('resourceVersion should not be set on objects to be created');
    // metadata.generateName: https://kubernetes.io/docs/reference/using-api/api-concepts/#generated-values
    if (!obj.metadata.name) {
      if (!obj.metadata.generateName) {
        throw errors.invalid(def.kind, def.group, '', [
          { reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' },
        ]);
      }
      obj.metadata.name = obj.metadata.generateName + randomSuffix();
    }
    if (this.store.get(def, obj.metadata.namespace, obj.metadata.name)) throw errors.alreadyExists(def.resource, def.group, obj.metadata.name);
    obj.apiVersion = apiVersionOf(def);
    obj.kind = def.kind;
    // Server-set fields: https://kubernetes.io/docs/concepts/overview/working-with-objects/#object-spec-and-status
    // (uid, creationTimestamp, resourceVersion are set by the server, whatever the client sent).
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = now();
    delete obj.metadata.deletionTimestamp;
    delete obj.metadata.deletionGracePeriodSeconds;
    delete obj.metadata.managedFields;
    if (def.generation) obj.metadata.generation = 1;
    else delete obj.metadata.generation;
    // Status subresource: "PUT/POST/PATCH requests to the custom resource ignore changes to the
    // status stanza" (custom-resource-definitions, "Status subresource").
    if (def.statusSubresource && def.custom) delete obj.status;
    if (def.resource === 'namespaces') obj.status = { phase: 'Active' };
    def.normalize?.(obj);
    this.validate(def, obj, undefined, o);
    if (o.dryRun) return obj;
    obj.metadata.resourceVersion = String(this.store.nextRv());
    const { apiVersion, kind, metadata, ...rest } = obj;
    const ordered: KObject = { apiVersion, kind, metadata, ...rest }; // field order as the apiserver writes it
    this.store.write(def, 'ADDED', ordered);
    if (obj.metadata.ownerReferences?.length) this.scheduleGc();
    return clone(ordered);
  }

  /**
   * Turns a proposed full object into the next stored state and commits it. Used by PUT and PATCH,
   * on the main resource or on /status.
   */
  private commitUpdate(def: ResourceDef, cur: KObject, proposed: KObject, sub: 'status' | undefined, requireRv: boolean, o: WriteOptions): KObject {
    if (!proposed || typeof proposed !== 'object' || Array.isArray(proposed)) throw errors.badRequest('Object is not a valid JSON object');
    proposed.metadata = proposed.metadata && typeof proposed.metadata === 'object' ? proposed.metadata : {};
    this.checkTypeMeta(def, proposed);
    const name = cur.metadata.name!;
    if (proposed.metadata.name !== undefined && proposed.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${proposed.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (def.namespaced && proposed.metadata.namespace !== undefined && proposed.metadata.namespace !== cur.metadata.namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    // Optimistic concurrency: https://kubernetes.io/docs/reference/using-api/api-concepts/#conflicts
    // ("resourceVersion … the update is rejected with 409 Conflict if the object changed").
    const rv = proposed.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== cur.metadata.resourceVersion) throw errors.conflict(def.resource, def.group, name);
    if ((rv === undefined || rv === '') && requireRv && !def.allowUnconditionalUpdate) {
      // customResourceStrategy.AllowUnconditionalUpdate() is false: a PUT must carry a resourceVersion.
      throw errors.invalid(def.kind, def.group, name, [
        { reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' },
      ]);
    }
    let next: KObject;
    if (sub === 'status') {
      // "PUT requests to the /status subresource take a custom resource object and ignore changes
      // to anything except the status stanza" (custom-resource-definitions, "Status subresource").
      next = clone(cur);
      if (proposed.status === undefined) delete next.status;
      else next.status = clone(proposed.status);
    } else {
      next = clone(proposed);
      if (def.statusSubresource) {
        if (cur.status === undefined) delete next.status;
        else next.status = clone(cur.status);
      }
    }
    next.apiVersion = apiVersionOf(def);
    next.kind = def.kind;
    const m = next.metadata;
    m.name = name;
    if (def.namespaced) m.namespace = cur.metadata.namespace;
    // k8s.io/apiserver/pkg/registry/rest/update.go BeforeUpdate: "Use the existing UID if none is
    // provided"; a different one fails validation (immutable) — e.g. a write meant for an object
    // that was deleted and re-created under the same name.
    if (sub !== 'status' && proposed.metadata.uid && proposed.metadata.uid !== cur.metadata.uid) {
      throw errors.invalid(def.kind, def.group, name, [
        { reason: 'FieldValueInvalid', field: 'metadata.uid', message: `Invalid value: "${proposed.metadata.uid}": field is immutable` },
      ]);
    }
    m.uid = cur.metadata.uid;
    m.creationTimestamp = cur.metadata.creationTimestamp;
    m.resourceVersion = cur.metadata.resourceVersion;
    if (cur.metadata.generation !== undefined) m.generation = cur.metadata.generation;
    else delete m.generation;
    // deletionTimestamp can't be set or moved by an update (finalizers page, Note).
    if (cur.metadata.deletionTimestamp) {
      m.deletionTimestamp = cur.metadata.deletionTimestamp;
      m.deletionGracePeriodSeconds = cur.metadata.deletionGracePeriodSeconds;
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
    if (cur.metadata.generateName !== undefined) m.generateName = cur.metadata.generateName;
    delete m.managedFields;
    if (Array.isArray(m.finalizers) && m.finalizers.length === 0) delete m.finalizers;
    if (Array.isArray(m.ownerReferences) && m.ownerReferences.length === 0) delete m.ownerReferences;
    // https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/ (Note): once
    // deletion started "You can remove existing finalizers … but you cannot add a new finalizer".
    if (cur.metadata.deletionTimestamp) {
      const old = new Set(cur.metadata.finalizers ?? []);
      const added = (m.finalizers ?? []).filter((f) => !old.has(f));
      if (added.length) {
        throw errors.invalid(def.kind, def.group, name, [
          {
            reason: 'FieldValueForbidden',
            field: 'metadata.finalizers',
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
          },
        ]);
      }
    }
    def.normalize?.(next);
    this.validate(def, next, cur, o);
    // metadata.generation: "a sequence number representing a specific generation of the desired
    // state", bumped by the server on spec changes only; with the status subresource enabled,
    // "updates to the custom resource … except for changes to the metadata or status stanza"
    // increment it (custom-resource-definitions, "Status subresource").
    if (def.generation && !deepEqual(specPart(cur), specPart(next))) m.generation = (cur.metadata.generation ?? 0) + 1;
    // A no-op write is not written: no new resourceVersion, no watch event (etcd3 store
    // GuaranteedUpdate skips identical objects).
    if (deepEqual(next, cur)) return next;
    // Deletion completes when the last finalizer goes (finalizers page: "When the
    // metadata.finalizers field is empty, Kubernetes considers the deletion complete").
    if (m.deletionTimestamp && !(m.finalizers?.length)) {
      if (o.dryRun) return next;
      m.resourceVersion = String(this.store.nextRv());
      this.store.remove(def, next, cur);
      this.scheduleGc();
      return clone(next);
    }
    if (o.dryRun) return next;
    m.resourceVersion = String(this.store.nextRv());
    this.store.write(def, 'MODIFIED', next, cur);
    if (m.ownerReferences?.length) this.scheduleGc();
    return clone(next);
  }

  /** PUT of an object or its /status. */
  update(def: ResourceDef, namespace: string | undefined, name: string, body: KObject, sub?: 'status', o: WriteOptions = {}): KObject {
    const cur = this.mustGet(def, namespace, name);
    if (sub === 'status' && !def.statusSubresource) throw errors.notFoundPath();
    const proposed = clone(body);
    return this.commitUpdate(def, cur, proposed, sub, true, o);
  }

  /**
   * PATCH of an object or its /status. https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply
   * The patch applies to the current object; a resourceVersion the patch carries (or a JSON
   * patch `test` on it) is a precondition.
   */
  patch(def: ResourceDef, namespace: string | undefined, name: string, type: PatchType, patchBody: unknown, sub?: 'status', o: WriteOptions = {}): KObject {
    const cur = this.mustGet(def, namespace, name);
    if (sub === 'status' && !def.statusSubresource) throw errors.notFoundPath();
    let proposed: KObject;
    if (type === 'json') proposed = jsonPatch(cur, patchBody) as KObject;
    else {
      if (patchBody === null || typeof patchBody !== 'object' || Array.isArray(patchBody)) {
        throw errors.badRequest('error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}');
      }
      // Strategic merge on built-in types is served as a JSON merge patch: identical for the
      // fields these types have except merge-keyed lists (simplification, see index.ts).
      proposed = mergePatch(cur, patchBody) as KObject;
    }
    return this.commitUpdate(def, cur, proposed, sub, false, o);
  }

  /**
   * DELETE. With finalizers the object is only marked (deletionTimestamp, and generation + 1 —
   * k8s.io/apiserver/pkg/registry/generic/registry/store.go markAsDeleting) and stays until the
   * last finalizer is removed. https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/
   * Propagation policies are not modelled: dependents are collected in the background.
   */
  delete(def: ResourceDef, namespace: string | undefined, name: string, o: DeleteOptions = {}): KObject {
    const cur = this.mustGet(def, namespace, name);
    const pre = o.preconditions;
    if (pre?.uid && pre.uid !== cur.metadata.uid) {
      throw errors.conflict(def.resource, def.group, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) {
      throw errors.conflict(
        def.resource,
        def.group,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`,
      );
    }
    const pending = cur.metadata.finalizers?.length || def.resource === 'namespaces';
    if (pending) {
      if (cur.metadata.deletionTimestamp) return cur; // already terminating: nothing changes
      const next = clone(cur);
      next.metadata.deletionTimestamp = now();
      next.metadata.deletionGracePeriodSeconds = 0;
      if (def.generation) next.metadata.generation = (cur.metadata.generation ?? 0) + 1;
      if (def.resource === 'namespaces') next.status = { ...(next.status as object), phase: 'Terminating' };
      if (o.dryRun) return next;
      next.metadata.resourceVersion = String(this.store.nextRv());
      this.store.write(def, 'MODIFIED', next, cur);
      this.scheduleGc();
      return clone(next);
    }
    if (o.dryRun) return cur;
    const last = clone(cur);
    last.metadata.resourceVersion = String(this.store.nextRv());
    this.store.remove(def, last, cur);
    this.scheduleGc();
    return clone(last);
  }

  // --- garbage collection -------------------------------------------------------------------

  private scheduleGc(): void {
    if (this.gcTimer) return;
    this.gcTimer = setTimeout(() => {
      this.gcTimer = undefined;
      try {
        this.collectGarbage();
      } finally {
        if (!this.gcTimer) for (const w of this.gcWaiters.splice(0)) w();
      }
    }, this.opts.gcDelayMs);
  }

  /** Resolves once no garbage collection is pending. */
  settled(): Promise<void> {
    if (!this.gcTimer) return Promise.resolve();
    return new Promise((r) => this.gcWaiters.push(r));
  }

  stop(): void {
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.gcTimer = undefined;
    for (const w of this.gcWaiters.splice(0)) w();
  }

  /**
   * One pass of a simplified garbage collector (https://kubernetes.io/docs/concepts/architecture/garbage-collection/):
   * a dependent whose owners (matched by uid; a namespaced dependent's owner must be in the same
   * namespace or cluster-scoped) are all gone is deleted in the background; owner references to
   * absent owners are removed when other owners remain. Terminating namespaces are emptied and
   * then removed (namespace controller). Every deletion goes through delete(), so dependents'
   * own finalizers are honoured.
   */
  collectGarbage(): void {
    const uids = new Map<string, KObject>();
    const everything = [...this.store.all()];
    for (const { obj } of everything) uids.set(obj.metadata.uid!, obj);
    for (const { def, obj } of everything) {
      const refs = obj.metadata.ownerReferences;
      if (!refs?.length) continue;
      const present = refs.filter((r) => {
        const owner = uids.get(r.uid);
        if (!owner) return false;
        return !def.namespaced || owner.metadata.namespace === undefined || owner.metadata.namespace === obj.metadata.namespace;
      });
      if (present.length === refs.length) continue;
      try {
        if (present.length === 0) {
          if (!obj.metadata.deletionTimestamp) this.delete(def, obj.metadata.namespace, obj.metadata.name!);
        } else {
          this.patch(def, obj.metadata.namespace, obj.metadata.name!, 'merge', { metadata: { ownerReferences: present } });
        }
      } catch {
        // The object changed or went meanwhile; the next pass sees the new state.
      }
    }
    const nsDef = this.namespacesDef();
    for (const ns of this.store.list(nsDef)) {
      if (!ns.metadata.deletionTimestamp) continue;
      let left = 0;
      for (const { def, obj } of [...this.store.all()]) {
        if (!def.namespaced || obj.metadata.namespace !== ns.metadata.name) continue;
        left++;
        if (!obj.metadata.deletionTimestamp) this.delete(def, obj.metadata.namespace, obj.metadata.name!);
      }
      if (left === 0 && this.store.get(nsDef, undefined, ns.metadata.name!)) {
        const last = clone(ns);
        last.metadata.resourceVersion = String(this.store.nextRv());
        this.store.remove(nsDef, last, ns);
      } else if (left > 0) {
        // Objects with finalizers hold the namespace; look again later.
        setTimeout(() => this.scheduleGc(), this.opts.gcDelayMs * 5).unref();
      }
    }
  }

  /** Creates a namespace if it is missing (seeding helper, not an API verb). */
  ensureNamespace(name: string): void {
    const def = this.namespacesDef();
    if (!this.store.get(def, undefined, name)) this.create(def, undefined, { metadata: { name } });
  }

  key(def: ResourceDef, o: KObject): string {
    return `${def.resource}:${nsKey(o.metadata.namespace, o.metadata.name!)}`;
  }
}
