import type Provider from 'oidc-provider';
import { EngineInternalMovedError } from './internal-moved.ts';

/** The code oidc-provider's client schema raises for a `localhost` redirect URL of an implicit web client. */
export const IMPLICIT_LOCALHOST_CODE = 'implicit-forbid-localhost';

/**
 * Hybrid clients carry the `implicit` grant type only because `code id_token` needs it; no access
 * token ever travels through the browser. So oidc-provider's ban on `localhost` for implicit web
 * clients does not apply, and an https://localhost redirect URL (which the admin API accepts) keeps
 * working. The ban is raised through `Client.Schema.prototype.invalidate(message, code)`, with no
 * public option; only that one code is let through.
 */
export function installHybridLocalhost(provider: Provider): void {
  const schema = (provider.Client as unknown as { Schema?: { prototype: { invalidate?: (message: string, code?: string) => void } } }).Schema?.prototype;
  const invalidate = schema?.invalidate;
  if (!schema || typeof invalidate !== 'function') throw new EngineInternalMovedError('Client.Schema.prototype.invalidate', 'hybrid-localhost.ts');
  schema.invalidate = function invalidateUnlessLocalhostHybrid(message: string, code?: string) {
    if (code === IMPLICIT_LOCALHOST_CODE) return;
    invalidate.call(this, message, code);
  };
}
