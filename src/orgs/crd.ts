// The ScimConfig CustomResourceDefinition (apiextensions.k8s.io/v1), built from the zod schema
// so that local YAML files and the apiserver accept the same documents (issue 8). `npm run
// generate` writes it to deploy/crds/scimconfigs.scimsync.io.yaml; a test fails when that file
// is stale. Reference: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/
import { z } from 'zod';
import { API_VERSION, KIND, scimConfigSpec } from './scimConfig.js';
import { toStructural, type Schema } from './structuralSchema.js';

export const CRD_GROUP = API_VERSION.split('/')[0];
export const CRD_VERSION = API_VERSION.split('/')[1];
export const CRD_PLURAL = 'scimconfigs';
export const CRD_NAME = `${CRD_PLURAL}.${CRD_GROUP}`;

/** spec's openAPIV3Schema: the zod schema's input side, made structural, plus the immutability rule. */
export function specSchema(): Schema {
  const spec = toStructural(z.toJSONSchema(scimConfigSpec, { io: 'input' }) as Schema, 'spec');
  const props = spec.properties as Record<string, Schema>;
  // A transition rule: evaluated on update only, when the field exists in the old object too.
  // https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#transition-rules
  props.organization = {
    ...props.organization,
    'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec.organization is immutable' }],
  };
  return { description: 'The organization (its SCIM endpoint is /scim/v2/{organization}/) and how its members are reconciled.', ...spec };
}

const str: Schema = { type: 'string' };
const time: Schema = { type: 'string', format: 'date-time' };
const count: Schema = { type: 'integer', format: 'int64', minimum: 0 };

/** metav1.Condition, as `kubebuilder` renders it for Kubernetes' own types. */
const condition: Schema = {
  type: 'object',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  properties: {
    type: { type: 'string', maxLength: 316, pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' },
    message: { type: 'string', maxLength: 32768 },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
    lastTransitionTime: time,
  },
};

/** status: written only by the operator through the status subresource. */
export function statusSchema(): Schema {
  return {
    type: 'object',
    description: 'Observed state, written by the scimsync operator.',
    properties: {
      observedGeneration: { type: 'integer', format: 'int64', description: 'The metadata.generation this status describes.' },
      endpoint: { ...str, description: 'The SCIM base URL to enter in the IdP.' },
      tokenSecretName: { ...str, description: 'The Secret (same namespace) holding the bearer token (keys token, endpoint).' },
      tokenCreatedAt: { ...time, description: 'When the current token was issued.' },
      lastFullSyncTime: { ...time, description: 'End of the last full resync with the target.' },
      lastHandledRotation: { ...str, description: 'The last scimsync.io/rotate-token annotation value acted on.' },
      lastHandledApproval: { ...str, description: 'The last scimsync.io/approve-revocations annotation value acted on.' },
      lastHandledReconcileAt: { ...str, description: 'The last scimsync.io/requested-sync-at annotation value acted on.' },
      counts: {
        type: 'object',
        properties: {
          users: count,
          activeUsers: count,
          groups: count,
          heldRevocations: count,
          drift: { type: 'object', properties: { missing: count, extra: count, changed: count, unmanaged: count } },
          driftTotal: { ...count, description: 'missing + extra + changed + unmanaged.' },
        },
      },
      conditions: {
        type: 'array',
        items: condition,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      },
    },
  };
}

const readyCondition = '.status.conditions[?(@.type=="Ready")]';

/** The whole CRD object. */
export function scimConfigCrd(): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD_NAME, labels: { 'app.kubernetes.io/name': 'scimsync', 'app.kubernetes.io/part-of': 'scimsync' } },
    spec: {
      group: CRD_GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: CRD_PLURAL, singular: KIND.toLowerCase(), shortNames: ['scimcfg'] },
      versions: [
        {
          name: CRD_VERSION,
          served: true,
          storage: true,
          // With the status subresource, metadata.generation moves only on spec changes and
          // writes to / ignore status (and /status ignores everything but status).
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: `${readyCondition}.status` },
            { name: 'Reason', type: 'string', jsonPath: `${readyCondition}.reason` },
            { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint' },
            { name: 'Token-Created', type: 'date', jsonPath: '.status.tokenCreatedAt' },
            { name: 'Last-Sync', type: 'date', jsonPath: '.status.lastFullSyncTime' },
            { name: 'Drift', type: 'integer', jsonPath: '.status.counts.driftTotal' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'One organization served by scimsync: its SCIM endpoint, bearer token and reconciliation settings.',
              required: ['spec'],
              properties: {
                apiVersion: str,
                kind: str,
                metadata: { type: 'object' },
                spec: specSchema(),
                status: statusSchema(),
              },
            },
          },
        },
      ],
    },
  };
}
