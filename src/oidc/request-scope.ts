import Provider from 'oidc-provider';
import type { User } from '../repos/users.ts';
import type { StoredModel } from '../repos/provider-models.ts';
import type { CachedClient } from './client-cache.ts';

/**
 * What one request of the provider learned that a later step of the same request needs: which secret
 * authenticated its client (for the adapter's re-check of a changed client), and the rows a token
 * lookup brought along (the token's grant and user, read in the same statement as the token, so the
 * engine's own lookups of them a moment later cost no round trip). Keyed by oidc-provider's request
 * context (`Provider.ctx`, its public async-local accessor), so nothing outlives the request; outside
 * a provider request nothing is remembered.
 */
interface Scope {
  secret?: { clientId: string; secretId: string };
  /** Clients this request was checked against from a copy that a later read found stale. */
  stale: Map<string, CachedClient>;
  rows: Map<string, StoredModel>;
  users: Map<string, User>;
}

const scopes = new WeakMap<object, Scope>();

function scope(): Scope | undefined {
  const ctx = Provider.ctx;
  if (!ctx) return undefined;
  let found = scopes.get(ctx);
  if (!found) {
    found = { stale: new Map(), rows: new Map(), users: new Map() };
    scopes.set(ctx, found);
  }
  return found;
}

export function rememberAuthenticatedSecret(clientId: string, secretId: string): void {
  const s = scope();
  if (s) s.secret = { clientId, secretId };
}

export function authenticatedSecret(clientId: string): string | undefined {
  const secret = scope()?.secret;
  return secret?.clientId === clientId ? secret.secretId : undefined;
}

/** A row read along with another, under its key (the digest of its id). */
export function rememberRow(key: string, row: StoredModel): void {
  scope()?.rows.set(key, row);
}

export function recallRow(key: string): StoredModel | undefined {
  return scope()?.rows.get(key);
}

/** The request wrote or removed the row: what was read before no longer holds. */
export function forgetRow(key: string): void {
  scope()?.rows.delete(key);
}

export function rememberUser(user: User): void {
  scope()?.users.set(user.id, user);
}

export function recallUser(id: string): User | undefined {
  return scope()?.users.get(id);
}

/** The copy of a client this request was served from turned out stale: its writes must re-check. */
export function rememberStaleClient(clientId: string, servedFrom: CachedClient): void {
  const s = scope();
  if (s && !s.stale.has(clientId)) s.stale.set(clientId, servedFrom);
}

export function staleClient(clientId: string): CachedClient | undefined {
  return scope()?.stale.get(clientId);
}
