// A loopback fake Kubernetes API server for scimsync's operator tests (issue 8): node:http on
// 127.0.0.1, driven through the real @kubernetes/client-node. It holds the API semantics the
// operator relies on, each cited where it is implemented (registry.ts, store.ts, patch.ts,
// selectors.ts, and below):
//   https://kubernetes.io/docs/reference/using-api/api-concepts/
//   https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/
//   https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/
//
// Use: `const fake = await startFakeApiserver(); kc.loadFromOptions(fake.kubeConfigOptions())`,
// or as a process: `npx vite-node test/fakeApiserver/main.ts --port 6443 --kubeconfig FILE`
// (prints its URL; kubectl works against it too). /work/notes/h8api.md has the full list.
//
// Served: scimsync.io/v1alpha1 scimconfigs from deploy/crds/ (namespaced, status subresource,
// schema, defaults, CEL, printer columns), v1 secrets, coordination.k8s.io/v1 leases,
// events.k8s.io/v1 events, v1 namespaces (minimal); discovery (/api, /apis, /api/v1,
// /apis/<group>/<version>), /openapi/v3 (skeleton), /version, /healthz, /readyz, /livez.
// Verbs: get, list (labelSelector, fieldSelector, limit/continue), watch (resourceVersion,
// bookmarks, 410, timeoutSeconds, sendInitialEvents), create (generateName), update, patch
// (merge, JSON patch; strategic merge only for built-in types), delete (finalizers,
// preconditions), deletecollection; /status get/update/patch; dryRun=All; fieldValidation;
// Table output for kubectl get.
// Faults (faults.ts): 500/503/429+Retry-After for N requests or a duration, stalls, 410 on the next
// watch (ERROR event or HTTP), dropped / cleanly ended / silenced watches, watches ended after N s,
// history compaction, a restart with connections refused. Control: /_fake/state,
// /_fake/faults/<name>, in-process `fake.faults`.
//
// NOT MODELLED (a real cluster differs here; check these first on one):
// - authentication, authorization (RBAC), admission (webhooks, ValidatingAdmissionPolicy, quota,
//   LimitRange); any bearer token is accepted and never checked;
// - server-side apply (application/apply-patch+yaml → 415), managedFields, fieldManager;
// - strategic merge patch semantics: on built-in types it is applied as a JSON merge patch (merge
//   keys of lists, $patch directives, retainKeys are ignored); custom resources refuse it (415) as the real server does;
// - garbage collection is a simplified background pass (owners matched by uid, run gcDelayMs after
//   a change); propagationPolicy Foreground/Orphan, blockOwnerDeletion and the orphan/foreground
//   finalizers are not modelled; namespace deletion empties and removes the namespace the same way;
// - CRD schema validation, pruning, defaulting and CEL come from validateCrd.ts (see its header for
//   its own gaps: no ratcheting, core CEL only); one served version per CRD, no conversion webhooks;
//   strict field validation (unknown fields) only for custom resources; CRDs themselves are not an
//   API resource here (they are given to startFakeApiserver);
// - list is always served from the latest state (resourceVersion/resourceVersionMatch on list
//   are accepted but not honoured as snapshots); continue tokens are not consistent snapshots;
// - no protobuf/CBOR, no aggregated discovery, no OpenAPI v2 and only a skeleton of v3 (no schemas:
//   kubectl explain shows nothing), Table output covers printer columns' simple JSONPaths only,
//   no exec/logs/port-forward, no priority & fairness
//   (429s only when injected), no graceful-deletion grace periods (pods), no TLS;
// - a watch from a future resourceVersion starts at the current one instead of waiting;
// - objects live in memory only; one process = one "cluster".
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { stringify as toYaml, parse as parseYaml } from 'yaml';
import { ApiError, errors } from './errors.js';
import { Faults, type WatchControl, type RequestInfo } from './faults.js';
import { Registry, type PatchType } from './registry.js';
import { apiVersionOf, builtinResources, scimConfigWithoutSchema, type KObject, type ResourceDef, type Validator } from './resources.js';
import { loadCrd, resourceFromCrd } from './crd.js';
import { openApiGroupVersion, openApiRoot } from './openapi.js';
import { toTable, wantsTable } from './table.js';
import { parseFieldSelector, parseLabelSelector, type Matcher } from './selectors.js';
import { Store, filterChange, type Listener, type WatchEventType } from './store.js';

export { Faults } from './faults.js';
export type { FailSpec, StallSpec, RequestMatch } from './faults.js';
export type { KObject, ResourceDef, Validator } from './resources.js';
export type { Status, StatusCause } from './errors.js';

export interface FakeApiserverOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Changes kept for watches; a watch from an older resourceVersion gets 410 (default 1000). */
  historySize?: number;
  /** Interval of BOOKMARK events on watches that asked for them (ms, default 5000). */
  bookmarkIntervalMs?: number;
  /** Delay of the garbage collector's pass after a change (ms, default 50). */
  gcDelayMs?: number;
  /** Namespaces that exist at start (default default, kube-system, kube-public, kube-node-lease). */
  namespaces?: string[];
  /**
   * CustomResourceDefinition objects to serve (schema, defaults and CEL rules enforced).
   * Default: the repository's deploy/crds/scimconfigs.scimsync.io.yaml (or, if that file is
   * missing, scimconfigs without a schema).
   */
  crds?: object[];
  /** Extra validation per resource (plural name), run after the built-in checks. */
  validators?: Record<string, Validator>;
  /** Extra resource types to serve. */
  resources?: ResourceDef[];
  /** Write a kubeconfig for this server here at start. */
  kubeconfigPath?: string;
  /** Called with one line per request (method path status ms). */
  log?: (line: string) => void;
}

/** One handled request, for assertions (`fake.requests`). */
export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  contentType?: string;
  status: number;
  watch: boolean;
  at: number; // epoch ms
}

/** Options for KubeConfig.loadFromOptions (@kubernetes/client-node). */
export interface KubeConfigOptions {
  clusters: { name: string; server: string; skipTLSVerify: boolean }[];
  users: { name: string; token: string }[];
  contexts: { name: string; cluster: string; user: string; namespace: string }[];
  currentContext: string;
}

export interface FakeApiserver {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly faults: Faults;
  /** Requests handled so far (bounded to the last 5000). */
  readonly requests: RequestRecord[];
  /** Open watch connections. */
  openWatches(): number;
  /** The newest resourceVersion (decimal string). */
  resourceVersion(): string;
  /** Drops the watch history: every watch from an older resourceVersion now gets 410. */
  compact(): void;
  /** Resolves when no garbage-collection pass is pending. */
  gcSettled(): Promise<void>;
  kubeConfigOptions(namespace?: string): KubeConfigOptions;
  writeKubeconfig(path: string, namespace?: string): Promise<void>;
  // Direct object access (same rules as the HTTP API, no faults, no request records):
  create(resource: string, obj: KObject, namespace?: string): KObject;
  get(resource: string, namespace: string | undefined, name: string): KObject | undefined;
  list(resource: string, namespace?: string): KObject[];
  update(resource: string, obj: KObject, subresource?: 'status'): KObject;
  patch(resource: string, namespace: string | undefined, name: string, mergePatch: unknown, subresource?: 'status'): KObject;
  delete(resource: string, namespace: string | undefined, name: string): KObject;
  stop(): Promise<void>;
}

const MAX_BODY = 3 * 1024 * 1024; // the apiserver's request body limit (3 MiB)

interface Route {
  def: ResourceDef;
  namespace?: string;
  name?: string;
  sub?: string;
}

/** Parses /api/v1/... and /apis/<group>/<version>/... into a resource route. */
function parseRoute(parts: string[], defs: ResourceDef[]): Route | 'discovery' | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api') {
    group = '';
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    group = parts[1];
    version = parts[2];
    rest = parts.slice(3);
  } else return undefined;
  if (!version) return 'discovery';
  if (rest.length === 0) return 'discovery';
  const find = (r: string) => defs.find((d) => d.group === group && d.version === version && d.resource === r);
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const def = find(rest[2]);
    if (def?.namespaced) return { def, namespace: rest[1], name: rest[3], sub: rest[4] };
  }
  const def = find(rest[0]);
  if (!def) return undefined;
  return { def, name: rest[1], sub: rest[2] };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `Request entity too large: limit is ${MAX_BODY}`, reason: 'RequestEntityTooLarge', code: 413 }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function mediaType(req: http.IncomingMessage): string {
  return String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

async function readObject(req: http.IncomingMessage): Promise<unknown> {
  const buf = await readBody(req);
  const mt = mediaType(req);
  if (mt !== '' && mt !== 'application/json' && mt !== 'application/yaml' && mt !== '*/*') {
    throw errors.unsupportedMediaType(mt, ['application/json', 'application/yaml']);
  }
  const text = buf.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return mt === 'application/yaml' ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw errors.badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
}

function patchTypeOf(req: http.IncomingMessage, def: ResourceDef): PatchType {
  const mt = mediaType(req);
  const accepted = ['application/json-patch+json', 'application/merge-patch+json'];
  if (mt === 'application/merge-patch+json') return 'merge';
  if (mt === 'application/json-patch+json') return 'json';
  // "Custom resources do not support strategic merge patch" — custom-resource-definitions,
  // "Advanced topics" / api-concepts "Patch and apply"; the apiserver answers 415.
  if (mt === 'application/strategic-merge-patch+json' && !def.custom) return 'strategic';
  if (!def.custom) accepted.push('application/strategic-merge-patch+json');
  throw errors.unsupportedMediaType(mt, accepted);
}

function qs(u: URL, k: string): string | null {
  return u.searchParams.get(k);
}

function isTrue(v: string | null): boolean {
  return v === 'true' || v === '1';
}

function send(res: http.ServerResponse, code: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: http.ServerResponse, e: unknown): number {
  if (e instanceof ApiError) {
    send(res, e.code, e.status, e.headers);
    return e.code;
  }
  const err = errors.internal(`Internal error occurred: ${(e as Error)?.message ?? String(e)}`);
  send(res, 500, err.status);
  return 500;
}

/** An open watch: one chunked JSON-lines response. */
class WatchSession {
  private timers: NodeJS.Timeout[] = [];
  silenced = false;
  private closed = false;

  constructor(
    readonly res: http.ServerResponse,
    private readonly onClose: (w: WatchSession) => void,
    private readonly transform?: (type: string, object: unknown) => unknown,
  ) {}

  /** api-concepts "Watch": each line is {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": …}. */
  write(type: WatchEventType | 'BOOKMARK' | 'ERROR', object: unknown): void {
    if (this.closed || this.silenced) return;
    const o = this.transform ? this.transform(type, object) : object;
    this.res.write(JSON.stringify({ type, object: o }) + '\n');
  }

  every(ms: number, fn: () => void): void {
    this.timers.push(setInterval(fn, ms));
  }

  after(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, ms));
  }

  private cleanup(): boolean {
    if (this.closed) return false;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.onClose(this);
    return true;
  }

  /** Ends the stream cleanly (terminating chunk sent). */
  end(): void {
    if (this.cleanup()) this.res.end();
  }

  /** Destroys the socket, as a network failure would. */
  drop(): void {
    if (this.cleanup()) this.res.socket?.destroy();
  }

  closedByClient(): void {
    this.cleanup();
  }
}

/** Starts the fake on 127.0.0.1. */
export async function startFakeApiserver(options: FakeApiserverOptions = {}): Promise<FakeApiserver> {
  const crds = options.crds ?? [loadCrd()].filter((c): c is object => c !== undefined);
  const customDefs = crds.map(resourceFromCrd);
  if (!customDefs.some((d) => d.resource === 'scimconfigs')) customDefs.push(scimConfigWithoutSchema());
  const defs = [...customDefs, ...builtinResources(), ...(options.resources ?? [])];
  for (const [resource, v] of Object.entries(options.validators ?? {})) {
    const d = defs.find((x) => x.resource === resource);
    if (!d) throw new Error(`validators: unknown resource ${resource}`);
    const builtin = d.validate;
    d.validate = builtin ? (o, old) => [...builtin(o, old), ...v(o, old)] : v;
  }
  const store = new Store(options.historySize ?? 1000);
  const registry = new Registry(store, defs, { gcDelayMs: options.gcDelayMs ?? 50 });
  for (const ns of options.namespaces ?? ['default', 'kube-system', 'kube-public', 'kube-node-lease']) registry.ensureNamespace(ns);
  const bookmarkMs = options.bookmarkIntervalMs ?? 5000;
  const watches = new Set<WatchSession>();
  const requests: RequestRecord[] = [];
  const stallTimers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const control: WatchControl = {
    drop: () => {
      const all = [...watches];
      for (const w of all) w.drop();
      return all.length;
    },
    end: () => {
      const all = [...watches];
      for (const w of all) w.end();
      return all.length;
    },
    restart: async () => {}, // set once the server exists
    silence: () => {
      let n = 0;
      for (const w of watches) if (!w.silenced) {
        w.silenced = true;
        n++;
      }
      return n;
    },
  };
  control.restart = async (downMs: number) => {
    for (const w of [...watches]) w.drop();
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
    store.compact();
    await new Promise((r) => setTimeout(r, downMs));
    if (stopped) return;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  };
  const faults = new Faults(control);

  function listOf(def: ResourceDef, namespace: string | undefined, match: Matcher, u: URL) {
    let items = store.list(def, namespace).filter(match);
    const rv = String(store.currentRv());
    const metadata: Record<string, unknown> = { resourceVersion: rv };
    // Chunked lists: https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
    const cont = qs(u, 'continue');
    if (cont) {
      let token: { k: string; rv: number };
      try {
        token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8'));
      } catch {
        throw errors.badRequest('continue key is not valid');
      }
      // "the server will respond with a 410 ResourceExpired error together with a continue token"
      if (token.rv < store.oldestRv()) {
        throw errors.expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > token.k);
    }
    const limit = Number(qs(u, 'limit') ?? 0);
    if (limit > 0 && items.length > limit) {
      const remaining = items.length - limit;
      items = items.slice(0, limit);
      const last = items[items.length - 1];
      metadata.continue = Buffer.from(JSON.stringify({ k: `${last.metadata.namespace ?? ''}/${last.metadata.name}`, rv: store.currentRv() })).toString('base64url');
      metadata.remainingItemCount = remaining;
    }
    return { apiVersion: apiVersionOf(def), kind: `${def.kind}List`, metadata, items };
  }

  function parseRv(v: string | null): number | undefined {
    if (v === null || v === '') return undefined;
    if (!/^\d+$/.test(v)) throw errors.badRequest(`resourceVersion: Invalid value: "${v}": must be a non-negative integer`);
    return Number(v);
  }

  /**
   * Watch: https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
   * and "Semantics for watch": resourceVersion unset or "0" → synthetic ADDED for every current
   * object, then changes; a specific version → every change after it; older than the retained
   * history → an ERROR event carrying a 410 Expired Status (what the watch cache sends; the HTTP
   * 410 form is available as a fault). Bookmarks: "Watch bookmarks" (only with allowWatchBookmarks=true,
   * object carries only kind/apiVersion/metadata.resourceVersion). timeoutSeconds ends the watch.
   */
  function startWatch(route: Route, match: Matcher, u: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
    const { def, namespace } = route;
    const rv = parseRv(qs(u, 'resourceVersion'));
    const goneMode = rv !== undefined && rv !== 0 ? faults.takeGone() : undefined;
    const tooOld = rv !== undefined && rv !== 0 && store.changesSince(def, namespace, rv) === 'gone';
    const goneMsg = `too old resource version: ${rv} (${store.oldestRv()})`;
    if (goneMode === 'http') throw errors.expired(goneMsg);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    // kubectl get -w asks for Tables: each event carries a one-row Table, only the first one
    // with column definitions (as the apiserver's watch encoder does).
    const table = wantsTable(req);
    let first = true;
    const w = new WatchSession(res, (s) => {
      watches.delete(s);
      store.listeners.delete(listener);
    }, table ? (type, object) => {
      if (type === 'ERROR' || type === 'BOOKMARK') return object;
      const t = toTable(def, [object as KObject], {}, qs(u, 'includeObject'), first);
      first = false;
      return t;
    } : undefined);
    const listener: Listener = { def, namespace, match, send: (type, object) => w.write(type, object) };
    watches.add(w);
    req.on('close', () => w.closedByClient());
    res.on('close', () => w.closedByClient());
    if (goneMode || tooOld) {
      w.write('ERROR', errors.expired(goneMsg).status);
      w.end();
      return;
    }
    const sendInitialEvents = isTrue(qs(u, 'sendInitialEvents'));
    if (rv === undefined || rv === 0 || sendInitialEvents) {
      for (const o of store.list(def, namespace)) if (match(o)) w.write('ADDED', o);
      if (sendInitialEvents) {
        // Streaming lists: the end of the initial state is a bookmark annotated k8s.io/initial-events-end.
        w.write('BOOKMARK', { kind: def.kind, apiVersion: apiVersionOf(def), metadata: { resourceVersion: String(store.currentRv()), annotations: { 'k8s.io/initial-events-end': 'true' } } });
      }
    } else {
      for (const c of store.changesSince(def, namespace, rv) as ReturnType<typeof store.changesSince> & object[]) {
        const t = filterChange(c, match);
        if (t) w.write(t, c.object);
      }
    }
    store.listeners.add(listener);
    if (isTrue(qs(u, 'allowWatchBookmarks'))) {
      w.every(bookmarkMs, () =>
        w.write('BOOKMARK', { kind: def.kind, apiVersion: apiVersionOf(def), metadata: { resourceVersion: String(store.currentRv()) } }),
      );
    }
    const timeout = Number(qs(u, 'timeoutSeconds') ?? 0);
    if (timeout > 0) w.after(timeout * 1000, () => w.end());
    if (faults.watchLifetimeSeconds !== null) w.after(faults.watchLifetimeSeconds * 1000, () => w.end());
  }

  async function handleResource(route: Route, req: http.IncomingMessage, res: http.ServerResponse, u: URL): Promise<number> {
    const { def, name, sub } = route;
    const namespace = def.namespaced ? route.namespace : undefined;
    const method = req.method ?? 'GET';
    const dryRun = qs(u, 'dryRun') === 'All';
    const fv = qs(u, 'fieldValidation') ?? 'Warn';
    if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') {
      throw errors.badRequest(`fieldValidation: Unsupported value: "${fv}": supported values: "Ignore", "Strict", "Warn"`);
    }
    const warnings: string[] = [];
    const wo = { dryRun, fieldValidation: fv as 'Strict' | 'Warn' | 'Ignore', warnings };
    // Warnings travel as "Warning: 299 - <quoted text>" headers (api-concepts "Field validation").
    const warn = (): Record<string, string | string[]> => (warnings.length ? { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) } : {});
    if (sub !== undefined && sub !== 'status') throw errors.notFoundPath();
    if (name === undefined) {
      // Collection: list / watch / create / deletecollection.
      if (def.namespaced && route.namespace === undefined && method !== 'GET') throw errors.methodNotAllowed();
      if (method === 'GET' || method === 'DELETE') {
        const match: Matcher = (() => {
          const l = parseLabelSelector(qs(u, 'labelSelector'));
          const f = parseFieldSelector(qs(u, 'fieldSelector'), def.fieldSelectors);
          return (o) => l(o) && f(o);
        })();
        if (method === 'DELETE') {
          const opts = ((await readObject(req)) ?? {}) as { preconditions?: { uid?: string; resourceVersion?: string } };
          const list = listOf(def, namespace, match, u);
          for (const o of list.items) registry.delete(def, o.metadata.namespace, o.metadata.name!, { dryRun, preconditions: opts.preconditions });
          send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
          return 200;
        }
        if (isTrue(qs(u, 'watch'))) {
          startWatch({ def, namespace }, match, u, req, res);
          return 200;
        }
        const list = listOf(def, namespace, match, u);
        send(res, 200, wantsTable(req) ? toTable(def, list.items, list.metadata, qs(u, 'includeObject')) : list);
        return 200;
      }
      if (method === 'POST') {
        const created = registry.create(def, namespace, (await readObject(req)) as KObject, wo);
        send(res, 201, created, warn());
        return 201;
      }
      throw errors.methodNotAllowed();
    }
    const subresource = sub === 'status' ? 'status' : undefined;
    if (subresource && !def.statusSubresource) throw errors.notFoundPath();
    switch (method) {
      case 'GET': {
        const o = registry.get(def, namespace, name);
        send(res, 200, wantsTable(req) ? toTable(def, [o], { resourceVersion: o.metadata.resourceVersion }, qs(u, 'includeObject')) : o);
        return 200;
      }
      case 'PUT':
        send(res, 200, registry.update(def, namespace, name, (await readObject(req)) as KObject, subresource, wo), warn());
        return 200;
      case 'PATCH': {
        const type = patchTypeOf(req, def);
        const text = (await readBody(req)).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (e) {
          throw errors.badRequest(`error decoding patch: ${(e as Error).message}`);
        }
        send(res, 200, registry.patch(def, namespace, name, type, body, subresource, wo), warn());
        return 200;
      }
      case 'DELETE': {
        if (subresource) throw errors.methodNotAllowed();
        const opts = ((await readObject(req)) ?? {}) as { preconditions?: { uid?: string; resourceVersion?: string } };
        const out = registry.delete(def, namespace, name, { dryRun, preconditions: opts.preconditions });
        const gone = !registry.store.get(def, namespace, name) || dryRun;
        if (def.returnDeletedObject || !gone || out.metadata.deletionTimestamp) send(res, 200, out);
        else send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: def.group, kind: def.resource, uid: out.metadata.uid } });
        return 200;
      }
      default:
        throw errors.methodNotAllowed();
    }
  }

  function discovery(parts: string[]): unknown {
    const groups = new Map<string, ResourceDef[]>();
    for (const d of defs) groups.set(apiVersionOf(d), [...(groups.get(apiVersionOf(d)) ?? []), d]);
    if (parts[0] === 'api' && parts.length === 1) return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}` }] };
    if (parts[0] === 'apis' && parts.length === 1) {
      const list = [...new Set(defs.filter((d) => d.group).map((d) => d.group))].map((g) => {
        const versions = [...new Set(defs.filter((d) => d.group === g).map((d) => d.version))].map((v) => ({ groupVersion: `${g}/${v}`, version: v }));
        return { name: g, versions, preferredVersion: versions[0] };
      });
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: list };
    }
    const gv = parts[0] === 'api' ? parts[1] : parts.slice(1, 3).join('/');
    if (parts[0] === 'apis' && parts.length === 2) {
      const vs = [...new Set(defs.filter((d) => d.group === parts[1]).map((d) => d.version))];
      if (!vs.length) throw errors.notFoundPath();
      const versions = vs.map((v) => ({ groupVersion: `${parts[1]}/${v}`, version: v }));
      return { kind: 'APIGroup', apiVersion: 'v1', name: parts[1], versions, preferredVersion: versions[0] };
    }
    const ds = groups.get(gv);
    if (!ds) throw errors.notFoundPath();
    const resources = ds.flatMap((d) => {
      const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
      const r = [{ name: d.resource, singularName: d.kind.toLowerCase(), namespaced: d.namespaced, kind: d.kind, verbs, ...(d.shortNames ? { shortNames: d.shortNames } : {}) }];
      if (d.statusSubresource) r.push({ name: `${d.resource}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: ['get', 'patch', 'update'] });
      return r;
    });
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources };
  }

  async function handleControl(parts: string[], req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
    // /_fake/state, /_fake/faults/<name>
    if (parts[1] === 'state' && req.method === 'GET') {
      send(res, 200, { resourceVersion: String(store.currentRv()), oldestResourceVersion: String(store.oldestRv()), openWatches: watches.size, faultsFired: faults.fired, requests: requests.length });
      return 200;
    }
    if (parts[1] === 'faults') {
      if (req.method === 'DELETE' && parts.length === 2) {
        faults.reset();
        send(res, 200, { ok: true });
        return 200;
      }
      if (req.method !== 'POST') throw errors.methodNotAllowed();
      const body = ((await readObject(req)) ?? {}) as Record<string, unknown>;
      let result: unknown = { ok: true };
      switch (parts[2]) {
        case 'fail':
          faults.fail(body as never);
          break;
        case 'stall':
          faults.stall(body as never);
          break;
        case 'gone':
          faults.goneNextWatch(Number(body.count ?? 1), body.mode === 'http' ? 'http' : 'event');
          break;
        case 'dropWatches':
          result = { dropped: faults.dropWatches() };
          break;
        case 'endWatches':
          result = { ended: faults.endWatches() };
          break;
        case 'silenceWatches':
          result = { silenced: faults.silenceWatches() };
          break;
        case 'endWatchesAfter':
          faults.endWatchesAfter(body.seconds === null || body.seconds === undefined ? null : Number(body.seconds));
          break;
        case 'compact':
          store.compact();
          break;
        case 'restart':
          // Answer first: this connection is about to be cut.
          send(res, 200, { restarting: true, downMs: Number(body.downMs ?? 1000) });
          void faults.restart(Number(body.downMs ?? 1000));
          return 200;
        case 'reset':
          faults.reset();
          break;
        default:
          throw errors.notFoundPath();
      }
      send(res, 200, result);
      return 200;
    }
    throw errors.notFoundPath();
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = (req.method ?? 'GET').toUpperCase();
    const watch = isTrue(qs(u, 'watch'));
    let status = 500;
    try {
      if (parts[0] === '_fake') {
        status = await handleControl(parts, req, res);
        return;
      }
      const info: RequestInfo = { method, path: u.pathname, watch };
      const stall = faults.takeStall(info);
      if (stall > 0) {
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            stallTimers.delete(t);
            r();
          }, stall);
          stallTimers.add(t);
        });
        if (req.destroyed || res.destroyed) return;
      }
      const fault = faults.takeFailure(info);
      if (fault) throw fault;
      if (['healthz', 'livez', 'readyz'].includes(parts[0]) && method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
        status = 200;
        return;
      }
      if (parts[0] === 'version' && method === 'GET') {
        send(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-scimsync-fake', platform: 'linux/amd64' });
        status = 200;
        return;
      }
      if (parts[0] === 'openapi' && parts[1] === 'v3' && method === 'GET') {
        const doc = parts.length === 2 ? openApiRoot(defs) : openApiGroupVersion(defs, parts.slice(2).join('/'));
        if (!doc) throw errors.notFoundPath();
        send(res, 200, doc);
        status = 200;
        return;
      }
      const route = parseRoute(parts, defs);
      if (route === 'discovery' || (route === undefined && parts.length > 0 && parts.length <= 3 && (parts[0] === 'api' || parts[0] === 'apis'))) {
        if (method !== 'GET') throw errors.methodNotAllowed();
        send(res, 200, discovery(parts));
        status = 200;
        return;
      }
      if (!route) throw errors.notFoundPath();
      status = await handleResource(route, req, res, u);
    } catch (e) {
      status = sendError(res, e);
    } finally {
      if (parts[0] !== '_fake') {
        requests.push({ method, path: u.pathname, query: u.search, contentType: req.headers['content-type'], status, watch, at: started });
        if (requests.length > 5000) requests.splice(0, requests.length - 5000);
      }
      options.log?.(`${method} ${u.pathname}${u.search} ${status} ${Date.now() - started}ms`);
    }
  }

  const server = http.createServer((req, res) => {
    res.on('error', () => {}); // a client gone mid-write is not the server's problem
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const kubeConfigOptions = (namespace = 'default'): KubeConfigOptions => ({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'fake', token: 'fake-token-not-checked' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace }],
    currentContext: 'fake',
  });
  const writeKubeconfig = async (path: string, namespace = 'default') => {
    const o = kubeConfigOptions(namespace);
    // kubeconfig file format: clusters/users/contexts as named entries (kubectl config view).
    const doc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: o.clusters.map((c) => ({ name: c.name, cluster: { server: c.server, 'insecure-skip-tls-verify': true } })),
      users: o.users.map((x) => ({ name: x.name, user: { token: x.token } })),
      contexts: o.contexts.map((c) => ({ name: c.name, context: { cluster: c.cluster, user: c.user, namespace: c.namespace } })),
      'current-context': o.currentContext,
    };
    await writeFile(path, toYaml(doc));
  };
  if (options.kubeconfigPath) await writeKubeconfig(options.kubeconfigPath);

  return {
    url,
    port,
    faults,
    requests,
    openWatches: () => watches.size,
    resourceVersion: () => String(store.currentRv()),
    compact: () => store.compact(),
    gcSettled: () => registry.settled(),
    kubeConfigOptions,
    writeKubeconfig,
    create: (resource, obj, namespace) => {
      const def = registry.def(resource);
      return registry.create(def, def.namespaced ? (namespace ?? obj.metadata?.namespace ?? 'default') : undefined, obj);
    },
    get: (resource, namespace, name) => store.get(registry.def(resource), namespace, name),
    list: (resource, namespace) => store.list(registry.def(resource), namespace),
    update: (resource, obj, subresource) => {
      const def = registry.def(resource);
      return registry.update(def, obj.metadata.namespace, obj.metadata.name!, obj, subresource);
    },
    patch: (resource, namespace, name, body, subresource) => registry.patch(registry.def(resource), namespace, name, 'merge', body, subresource),
    delete: (resource, namespace, name) => registry.delete(registry.def(resource), namespace, name),
    stop: async () => {
      stopped = true;
      registry.stop();
      for (const t of stallTimers) clearTimeout(t);
      stallTimers.clear();
      for (const w of [...watches]) w.end();
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
