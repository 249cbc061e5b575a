import Provider from 'oidc-provider';

/**
 * Which secret authenticated the client of the request being served, for the adapter's re-check when
 * a cached client turns out to have changed (adapter.ts). Keyed by oidc-provider's request context
 * (`Provider.ctx`, its public async-local accessor), so it lives exactly as long as the request.
 */
const authenticated = new WeakMap<object, { clientId: string; secretId: string }>();

export function rememberAuthenticatedSecret(clientId: string, secretId: string): void {
  const ctx = Provider.ctx;
  if (ctx) authenticated.set(ctx, { clientId, secretId });
}

export function authenticatedSecret(clientId: string): string | undefined {
  const ctx = Provider.ctx;
  const entry = ctx ? authenticated.get(ctx) : undefined;
  return entry?.clientId === clientId ? entry.secretId : undefined;
}
