// Builds the connector an organization's spec.target selects. Connectors are cached per
// organization and spec; Postgres pools are shared per connection URL.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readEnvSecret } from '../config.js';
import type { TargetSpec } from '../orgs/scimConfig.js';
import { makePool, type Pool } from '../store/pool.js';
import { makeHttpTarget } from './http/httpTarget.js';
import { makePostgresTarget } from './postgres/postgresTarget.js';
import { TargetRejectedError, type Target } from './target.js';

export * from './target.js';
export { makeHttpTarget } from './http/httpTarget.js';
export { makePostgresTarget } from './postgres/postgresTarget.js';

/**
 * Reads a credential a ScimConfig names by {name, key} for an organization (slug). The
 * Kubernetes implementation (src/k8s/secretReader.ts) reads the Secret through the API.
 */
export type SecretReader = (organization: string, ref: { name: string; key: string }) => Promise<string>;

export interface TargetResolverDeps {
  /** The scimsync database: the postgres target's connection when none is configured. */
  pool: Pool;
  /** Local mode: Secrets mounted as files under <secretsDir>/<name>/<key>. */
  secretsDir: string;
  /** When given (TARGET_SECRETS=kubernetes), secret references are read with it instead of files. */
  readSecret?: SecretReader;
}

export interface TargetResolver {
  targetFor(organization: { slug: string; spec: { target: TargetSpec } }): Promise<Target>;
  close(): Promise<void>;
}

export function makeTargetResolver(deps: TargetResolverDeps): TargetResolver {
  const cache = new Map<string, { key: string; target: Target }>();
  const pools = new Map<string, Pool>();

  async function secret(where: string, slug: string, value?: string, envName?: string, ref?: { name: string; key: string }): Promise<string | undefined> {
    if (value) return value;
    if (envName) {
      const v = readEnvSecret(envName);
      if (v === undefined) throw new TargetRejectedError(`${where}: environment variable ${envName} is not set`);
      return v;
    }
    if (ref && deps.readSecret) {
      try {
        return await deps.readSecret(slug, ref);
      } catch (err) {
        throw new TargetRejectedError(`${where}: ${(err as Error).message}`);
      }
    }
    if (ref) {
      try {
        return (await readFile(path.join(deps.secretsDir, ref.name, ref.key), 'utf8')).trim();
      } catch (err) {
        throw new TargetRejectedError(`${where}: secret ${ref.name}/${ref.key} not readable under ${deps.secretsDir}: ${(err as Error).message}`);
      }
    }
    return undefined;
  }

  async function build(slug: string, spec: TargetSpec): Promise<Target> {
    if (spec.type === 'http') {
      const h = spec.http;
      const token = await secret(`organization ${slug} target.http token`, slug, h.token, h.tokenEnv, h.tokenSecretRef);
      return makeHttpTarget({ ...h, organization: h.organization ?? slug, token });
    }
    const p = spec.postgres;
    const conn = p.connection;
    const url = conn ? await secret(`organization ${slug} target.postgres connection`, slug, conn.url, conn.urlEnv, conn.urlSecretRef) : undefined;
    let pool = deps.pool;
    if (url) {
      pool = pools.get(url) ?? makePool(url, 8);
      pools.set(url, pool);
    }
    return makePostgresTarget(pool, { ...p, organizationValue: p.organizationValue ?? slug });
  }

  return {
    async targetFor(org) {
      // The key includes resolved secrets, so a rotated token builds a new connector.
      const spec = org.spec.target;
      let secrets = '';
      if (spec.type === 'http' && !spec.http.token) secrets = (await secret(org.slug, org.slug, undefined, spec.http.tokenEnv, spec.http.tokenSecretRef)) ?? '';
      const conn = spec.type === 'postgres' ? spec.postgres.connection : undefined;
      if (conn && !conn.url) secrets = (await secret(org.slug, org.slug, undefined, conn.urlEnv, conn.urlSecretRef)) ?? '';
      const key = JSON.stringify(spec) + secrets;
      const hit = cache.get(org.slug);
      if (hit?.key === key) return hit.target;
      const target = await build(org.slug, spec);
      cache.set(org.slug, { key, target });
      return target;
    },
    async close() {
      await Promise.all([...cache.values()].map((c) => c.target.close()));
      await Promise.all([...pools.values()].map((p) => p.end()));
      cache.clear();
      pools.clear();
    },
  };
}
