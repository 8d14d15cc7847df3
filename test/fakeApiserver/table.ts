// Server-side printing for kubectl: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`
// answers a meta.k8s.io/v1 Table (https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables).
// Custom resources get the CRD's additionalPrinterColumns
// (custom-resource-definitions, "Additional printer columns"); built-ins a few columns of their own.
import type http from 'node:http';
import type { KObject, ResourceDef } from './resources.js';

export interface PrinterColumn {
  name: string;
  type: string; // string, integer, number, boolean, date
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** Whether the client asked for a Table (kubectl get does; client libraries do not). */
export function wantsTable(req: http.IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? '');
  const first = accept.split(',')[0] ?? '';
  return /as=Table/.test(first) && /g=meta\.k8s\.io/.test(first);
}

/**
 * A subset of kubectl's JSONPath, enough for printer columns: `.a.b`, `[0]`, `[*]`,
 * `[?(@.type=="Ready")]`. Returns the first match (what a column cell shows) or undefined.
 */
export function jsonPathFirst(obj: unknown, path: string): unknown {
  const steps = path.match(/\.[A-Za-z0-9_-]+|\[\?\(@\.[A-Za-z0-9_.]+\s*==\s*"[^"]*"\)\]|\[\d+\]|\[\*\]/g) ?? [];
  let cur: unknown[] = [obj];
  for (const st of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (st.startsWith('.')) {
        if (v && typeof v === 'object' && !Array.isArray(v)) next.push((v as Record<string, unknown>)[st.slice(1)]);
      } else if (st === '[*]') {
        if (Array.isArray(v)) next.push(...v);
      } else if (/^\[\d+\]$/.test(st)) {
        if (Array.isArray(v)) next.push(v[Number(st.slice(1, -1))]);
      } else {
        const m = st.match(/^\[\?\(@\.([A-Za-z0-9_.]+)\s*==\s*"([^"]*)"\)\]$/)!;
        if (Array.isArray(v)) {
          for (const item of v) {
            const got = m[1].split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), item);
            if (String(got) === m[2]) next.push(item);
          }
        }
      }
    }
    cur = next.filter((x) => x !== undefined);
  }
  return cur[0];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };

/** The columns of a type (besides Name, which always comes first). */
export function columnsOf(def: ResourceDef): PrinterColumn[] {
  if (def.printerColumns?.length) return def.printerColumns;
  switch (def.resource) {
    case 'secrets':
      return [{ name: 'Type', type: 'string', jsonPath: '.type' }, { name: 'Data', type: 'integer', jsonPath: '.__dataCount' }, age];
    case 'namespaces':
      return [{ name: 'Status', type: 'string', jsonPath: '.status.phase' }, age];
    case 'leases':
      return [{ name: 'Holder', type: 'string', jsonPath: '.spec.holderIdentity' }, age];
    case 'events':
      return [{ name: 'Reason', type: 'string', jsonPath: '.reason' }, { name: 'Object', type: 'string', jsonPath: '.regarding.name' }, { name: 'Note', type: 'string', jsonPath: '.note' }];
    default:
      return [age];
  }
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration: "45s", "3m12s", "5h2m", "3d4h", "2y3d". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 2) return `${days}d`;
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${days / 365}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

function cell(o: KObject, c: PrinterColumn): unknown {
  const src = c.jsonPath === '.__dataCount' ? { __dataCount: Object.keys((o.data as object) ?? {}).length } : o;
  const v = jsonPathFirst(src, c.jsonPath);
  if (v === undefined || v === null) return null;
  // The server renders date columns as an age (apiextensions tableconvertor,
  // ConvertToHumanReadableDateType): "<unknown>" when it does not parse.
  if (c.type === 'date') {
    const t = Date.parse(String(v));
    return Number.isNaN(t) ? '<unknown>' : humanDuration(Date.now() - t);
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return v;
}

/**
 * A meta.k8s.io/v1 Table of `items`. includeObject: "Metadata" (default; rows carry
 * PartialObjectMetadata), "Object" or "None" — the includeObject query parameter.
 */
export function toTable(def: ResourceDef, items: KObject[], listMeta: Record<string, unknown>, includeObject: string | null, withColumns = true): unknown {
  const cols = columnsOf(def);
  const columnDefinitions = [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    ...cols.map((c) => ({ name: c.name, type: c.type === 'date' ? 'date' : c.type, format: '', description: c.description ?? '', priority: c.priority ?? 0 })),
  ];
  const rows = items.map((o) => {
    const row: Record<string, unknown> = { cells: [o.metadata.name, ...cols.map((c) => cell(o, c))] };
    if (includeObject === 'Object') row.object = o;
    else if (includeObject !== 'None') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
    return row;
  });
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta, ...(withColumns ? { columnDefinitions } : {}), rows };
}
