import type { FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { AuditActor } from '../../audit.ts';
import { ProblemError } from '../../errors.ts';
import type { AuditContext } from '../../services/audit-context.ts';
import { CONSOLE_CLIENT_ID } from '../../oidc/provider.ts';
import { ADMIN_ROLE, ADMIN_SCOPE } from '../../roles.ts';
import type { ClientCache } from '../../oidc/client-cache.ts';
import type { UsersRepo } from '../../repos/users.ts';

/** Who is calling the admin API: an admin user through the console, or an automation client. */
export type AdminPrincipal = { kind: 'user'; userId: string; username: string } | { kind: 'client'; clientId: string };

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

/** Who made an admin API request, and from where, as the audit trail records it. */
export function auditContext(request: FastifyRequest): AuditContext {
  const admin = request.admin;
  const actor: AuditActor = !admin
    ? { kind: 'anonymous' }
    : admin.kind === 'user'
      ? { kind: 'user', id: admin.userId, username: admin.username }
      : { kind: 'client', id: admin.clientId };
  return { actor, address: request.ip };
}

/** A 401 or 403 that carries its RFC 6750 challenge for the WWW-Authenticate header. */
export class BearerError extends ProblemError {
  readonly challenge: string;
  constructor(status: 401 | 403, detail: string, challenge: string) {
    super(
      status,
      status === 401 ? 'unauthorized' : 'forbidden',
      status === 401 ? 'Authentication required' : 'Forbidden',
      detail,
    );
    this.challenge = challenge;
  }
}

const REALM = 'realm="keyhold"';
const missing = () => new BearerError(401, 'send an access token issued by this Keyhold: Authorization: Bearer <token>', `Bearer ${REALM}`);
const invalidToken = () =>
  new BearerError(401, 'the access token is not valid: it is unknown, expired or revoked, or its client or user is gone or disabled', `Bearer ${REALM}, error="invalid_token"`);
const notAdmin = (detail: string) => new BearerError(403, detail, `Bearer ${REALM}, error="insufficient_scope", scope="${ADMIN_SCOPE}"`);

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

export interface AdminAuthDeps {
  provider: Provider;
  /** The instance's client cache: the token lookup before it drops a copy that changed (oidc/adapter.ts). */
  clients: Pick<ClientCache, 'find'>;
  users: UsersRepo;
}

/**
 * Checks the bearer token of an admin API request against the provider's own token store, and the
 * user or client behind it against the database, on every request (so a role taken away, a user
 * disabled or a client deleted is in force at once, on every instance).
 */
export function createAdminAuth({ provider, clients, users }: AdminAuthDeps) {
  return async function authenticate(request: FastifyRequest): Promise<AdminPrincipal> {
    const header = request.headers.authorization;
    if (!header) throw missing();
    const value = BEARER.exec(header)?.[1];
    if (!value) throw invalidToken();

    // Asked together, the two lookups share one query (see oidc/adapter.ts).
    const [accessToken, clientCredentials] = await Promise.all([provider.AccessToken.find(value), provider.ClientCredentials.find(value)]);
    const token = accessToken ?? clientCredentials;
    if (!token || token.isExpired || !token.clientId) throw invalidToken();
    const scopes = new Set(typeof token.scope === 'string' ? token.scope.split(' ') : []);
    const accountId = 'accountId' in token ? token.accountId : undefined;

    if (accountId) {
      // Tokens carrying the admin scope for a user come only from the console (see loadExistingGrant).
      const user = await users.findById(accountId);
      if (!user || user.disabled) throw invalidToken();
      if (token.clientId !== CONSOLE_CLIENT_ID || !scopes.has(ADMIN_SCOPE)) {
        throw notAdmin(`this token was not issued for the admin API: sign in through the admin console (scope "${ADMIN_SCOPE}")`);
      }
      if (!user.roles.includes(ADMIN_ROLE)) throw notAdmin(`user ${user.username} does not hold the ${ADMIN_ROLE} role`);
      return { kind: 'user', userId: user.id, username: user.username };
    }

    const client = (await clients.find(token.clientId))?.client;
    if (!client || !client.enabled) throw invalidToken();
    if (client.type !== 'client-credentials' || !client.roles.includes(ADMIN_ROLE)) {
      throw notAdmin(`client ${client.id} does not hold the ${ADMIN_ROLE} role`);
    }
    if (!scopes.has(ADMIN_SCOPE)) throw notAdmin(`this token was not issued with the "${ADMIN_SCOPE}" scope: ask for it at the token endpoint`);
    return { kind: 'client', clientId: client.id };
  };
}
