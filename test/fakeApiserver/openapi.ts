// Just enough OpenAPI v3 for kubectl (/openapi/v3 and one document per group-version): kubectl
// asks it whether the server takes `fieldValidation` on PATCH (then it validates server-side,
// https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation) and whether a
// type takes strategic merge patch (custom resources do not, so kubectl apply sends a JSON merge
// patch). Schemas are not published: `kubectl explain` has nothing to show.
import { apiVersionOf, type ResourceDef } from './resources.js';

function gvPath(gv: string): string {
  return gv.includes('/') ? `apis/${gv}` : `api/${gv}`;
}

/** The /openapi/v3 root: one entry per served group-version. */
export function openApiRoot(defs: ResourceDef[]): unknown {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of new Set(defs.map(apiVersionOf))) paths[gvPath(gv)] = { serverRelativeURL: `/openapi/v3/${gvPath(gv)}?hash=fake` };
  return { paths };
}

/** The OpenAPI document of one group-version ("api/v1", "apis/scimsync.io/v1alpha1"), or undefined. */
export function openApiGroupVersion(defs: ResourceDef[], path: string): unknown {
  const served = defs.filter((d) => gvPath(apiVersionOf(d)) === path);
  if (!served.length) return undefined;
  const paths: Record<string, unknown> = {};
  for (const d of served) {
    const base = `/${path}${d.namespaced ? '/namespaces/{namespace}' : ''}/${d.resource}/{name}`;
    const gvk = { group: d.group, version: d.version, kind: d.kind };
    const content: Record<string, unknown> = {
      'application/json-patch+json': { schema: { type: 'object' } },
      'application/merge-patch+json': { schema: { type: 'object' } },
    };
    paths[base] = {
      get: { 'x-kubernetes-action': 'get', 'x-kubernetes-group-version-kind': gvk, responses: { '200': { description: 'OK' } } },
      patch: {
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
        parameters: [
          { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
        ],
        requestBody: { content },
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes (scimsync fake)', version: 'v1.31.0' }, paths, components: { schemas: {} } };
}
