// `scimsync token create|list|revoke`: the token is printed alone on stdout, once.
import { withTransaction, type Pool } from '../store/pool.js';
import { recordAudit } from '../store/audit.js';
import { findOrganization } from '../store/orgs.js';
import { createToken, listTokens, OrganizationDeletedError, revokeToken } from '../store/tokens.js';
import { parseArgs, parseDuration } from './args.js';

export interface TokenCliContext {
  pool: Pool;
  out: (line: string) => void;
  err: (line: string) => void;
  endpointFor: (org: string) => string;
}

const USAGE = 'usage: scimsync token create <org> [--description text] [--expires-in 90d] | token list <org> | token revoke <org> <prefix>';

export async function tokenCommand(argv: string[], ctx: TokenCliContext): Promise<number> {
  const { positional, flags } = parseArgs(argv);
  const [verb, orgSlug, prefix] = positional;
  if (!verb || !orgSlug) {
    ctx.err(USAGE);
    return 2;
  }
  const org = await findOrganization(ctx.pool, orgSlug);
  if (!org) {
    ctx.err(`unknown organization "${orgSlug}": declare it in a ScimConfig (scimsync start --config …) or start without --config for "demo"`);
    return 1;
  }
  switch (verb) {
    case 'create': {
      if (org.deletedAt) {
        ctx.err(`organization "${org.slug}" was deleted at ${org.deletedAt}: it gets no new tokens; ${restoreHint(org.slug)}`);
        return 1;
      }
      const expiresIn = flags.get('expires-in');
      const description = flags.get('description');
      const expiresAt = typeof expiresIn === 'string' ? new Date(Date.now() + parseDuration(expiresIn)) : undefined;
      let issued: { token: string; prefix: string };
      try {
        // The token and its audit entry commit together.
        issued = await withTransaction(ctx.pool, async (client) => {
          const created = await createToken(client, org.id, { description: typeof description === 'string' ? description : undefined, expiresAt });
          await recordAudit(client, { organizationId: org.id, organization: org.slug, actor: 'cli', operation: 'token.create', resourceId: created.prefix });
          return created;
        });
      } catch (e) {
        if (!(e instanceof OrganizationDeletedError)) throw e;
        ctx.err(`organization "${org.slug}" was deleted meanwhile: it gets no new tokens; ${restoreHint(org.slug)}`);
        return 1;
      }
      const { token, prefix: p } = issued;
      ctx.out(token);
      ctx.err(`token ${p} for organization ${org.slug}; SCIM endpoint: ${ctx.endpointFor(org.slug)}`);
      ctx.err('the token is shown only now: store it in your identity provider');
      return 0;
    }
    case 'list': {
      const rows = await listTokens(ctx.pool, org.id);
      ctx.out(['PREFIX', 'CREATED', 'LAST USED', 'EXPIRES', 'STATUS', 'DESCRIPTION'].join('\t'));
      for (const t of rows) {
        ctx.out([t.prefix, t.createdAt, t.lastUsedAt ?? '-', t.expiresAt ?? 'never', t.status, t.description ?? ''].join('\t'));
      }
      return 0;
    }
    case 'revoke': {
      if (!prefix) {
        ctx.err(USAGE);
        return 2;
      }
      const revoked = await withTransaction(ctx.pool, async (client) => {
        const ok = await revokeToken(client, org.id, prefix);
        if (ok) await recordAudit(client, { organizationId: org.id, organization: org.slug, actor: 'cli', operation: 'token.revoke', resourceId: prefix });
        return ok;
      });
      if (!revoked) {
        ctx.err(`organization ${org.slug} has no live token with prefix "${prefix}"`);
        return 1;
      }
      ctx.err(`token ${prefix} revoked; it is refused from the next request on`);
      return 0;
    }
    default:
      ctx.err(USAGE);
      return 2;
  }
}

/** How a deleted organization comes back: declared again; `demo` also by a start without --config (declareOrganizations). */
export function restoreHint(slug: string): string {
  return slug === 'demo'
    ? 'declare it again (scimsync start --config …) or restart without --config (that declares the built-in "demo") to restore it; its old tokens stay revoked'
    : 'declare it again (scimsync start --config …) to restore it; its old tokens stay revoked';
}
