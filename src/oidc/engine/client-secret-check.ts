import type Provider from 'oidc-provider';
import { EngineInternalMovedError } from './internal-moved.ts';

/**
 * oidc-provider authenticates `client_secret_basic`/`client_secret_post` by comparing the presented
 * value with the client's one plain `client_secret` (`Client.prototype.compareClientSecret`). Keyhold
 * keeps only digests, several per client for rotation, and no public option takes a verifier, so the
 * comparison is replaced by `verify`. The metadata's own `client_secret` is a per-process placeholder
 * that never authenticates anyone.
 */
export function installClientSecretCheck(provider: Provider, verify: (clientId: string, presented: string) => Promise<boolean>): void {
  const prototype = provider.Client.prototype as unknown as { compareClientSecret?: unknown };
  if (typeof prototype.compareClientSecret !== 'function') {
    throw new EngineInternalMovedError('Client.prototype.compareClientSecret', 'client-secret-check.ts');
  }
  prototype.compareClientSecret = function compareClientSecret(this: { clientId: string }, presented: unknown) {
    return typeof presented === 'string' ? verify(this.clientId, presented) : Promise.resolve(false);
  };
}
