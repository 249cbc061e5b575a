import { CLIENT_SECRET_PREFIX, digest } from '../crypto/digest.ts';
import type { Metrics } from '../metrics.ts';
import { verifySecret } from '../passwords.ts';
import type { ClientsRepo, SecretCheck } from '../repos/clients.ts';
import type { ClientCache } from './client-cache.ts';
import { rememberAuthenticatedSecret } from './request-scope.ts';

export interface SecretVerifier {
  /** True when `presented` is one of the client's unexpired secrets. */
  verify(clientId: string, presented: string): Promise<boolean>;
}

export interface SecretVerifierDeps {
  cache: ClientCache;
  clients: Pick<ClientsRepo, 'touchSecret' | 'upgradeLegacySecret'>;
  now?: () => number;
  /** Counts the argon2id verifications of secrets issued before digests. */
  metrics?: Pick<Metrics, 'passwordVerified'>;
}

/**
 * Client authentication by digest: the presented value's SHA-256 is looked up among the client's
 * secret digests, which the instance holds with the client (client-cache.ts). No candidate is tried in
 * turn. A match in the cached copy costs no query; an unknown client and a wrong, expired or deleted
 * secret cost the same one query (the client read again).
 *
 * Secrets issued before digests (argon2id hashes, values without the `khs_` prefix) keep working until
 * they expire or are removed: a value without the prefix is checked against them, and the first
 * successful use stores its digest in place of the hash, so from then on it is found like any other.
 */
export function createSecretVerifier({ cache, clients, now = Date.now, metrics }: SecretVerifierDeps): SecretVerifier {
  // lastUsedAt is kept to the minute: each instance writes it at most once a minute per secret, off
  // the request path, so the token endpoint's steady state has no write for it.
  const lastTouched = new Map<string, number>();
  const touch = (secretId: string) => {
    const at = lastTouched.get(secretId);
    if (at !== undefined && now() - at < 60_000) return;
    if (lastTouched.size >= 10_000) lastTouched.clear();
    lastTouched.set(secretId, now());
    void clients.touchSecret(secretId).catch(() => lastTouched.delete(secretId));
  };
  const unexpired = (secret: SecretCheck) => secret.expiresAt === null || secret.expiresAt.getTime() > now();

  return {
    async verify(clientId, presented) {
      const presentedDigest = digest(presented);
      let entry = await cache.find(clientId);
      let match = entry?.secretsByDigest.get(presentedDigest);
      // Not in the cached copy (or expired there): a secret added a moment ago on another instance is
      // found in the database, and every refusal costs the same one query an unknown client costs.
      if (entry && (!match || !unexpired(match))) {
        entry = await cache.refresh(clientId);
        match = entry?.secretsByDigest.get(presentedDigest);
      }
      if (!entry) return false;
      if (match) {
        if (!unexpired(match)) return false;
        touch(match.id);
        rememberAuthenticatedSecret(clientId, match.id);
        return true;
      }
      if (presented.startsWith(CLIENT_SECRET_PREFIX)) return false;
      for (const legacy of entry.legacySecrets) {
        if (!unexpired(legacy)) continue;
        const verifyStarted = performance.now();
        const ok = await verifySecret(legacy.legacyHash!, presented);
        metrics?.passwordVerified('client_secret', verifyStarted);
        if (ok) {
          await clients.upgradeLegacySecret(clientId, legacy.id, presentedDigest);
          touch(legacy.id);
          rememberAuthenticatedSecret(clientId, legacy.id);
          return true;
        }
      }
      return false;
    },
  };
}
