import { createHash } from 'node:crypto';
import type { ClientsRepo } from '../repos/clients.ts';
import { verifyDummy, verifySecret } from '../passwords.ts';

/** How long a verified secret is trusted without paying argon2 again. */
export const DEFAULT_SECRET_CACHE_TTL_MS = 5 * 60_000;
const CACHE_MAX_ENTRIES = 10_000;

interface CachedVerification {
  clientId: string;
  secretId: string;
  until: number;
}

export interface SecretVerifier {
  /** True when `presented` matches one of the client's unexpired secrets. */
  verify(clientId: string, presented: string): Promise<boolean>;
  /** Spends the time of a verification for a client that does not exist. */
  verifyUnknown(presented: string): Promise<false>;
  /** Drops what is cached for a client (it, or one of its secrets, changed). */
  invalidate(clientId: string): void;
  /** Drops everything (change notifications may have been missed). */
  invalidateAll(): void;
}

/**
 * Verifies client secrets against their argon2id hashes. The hashes are read on every call, so an
 * expired or deleted secret fails on the very next request; a short-lived cache keyed by a SHA-256 of
 * the presented value spares the argon2 cost when the same secret comes back. Entries are dropped on
 * expiry, and on any change to the client announced through Postgres NOTIFY (see `invalidate`).
 */
export function createSecretVerifier(
  clients: ClientsRepo,
  { ttlMs = DEFAULT_SECRET_CACHE_TTL_MS, now = Date.now }: { ttlMs?: number; now?: () => number } = {},
): SecretVerifier {
  const cache = new Map<string, CachedVerification>();
  // lastUsedAt is kept to the minute: each instance writes it at most once a minute per secret,
  // so the token path rarely pays for a write.
  const lastTouched = new Map<string, number>();
  const touch = (secretId: string) => {
    const at = lastTouched.get(secretId);
    if (at !== undefined && now() - at < 60_000) return;
    if (lastTouched.size >= CACHE_MAX_ENTRIES) lastTouched.clear();
    lastTouched.set(secretId, now());
    void clients.touchSecret(secretId).catch(() => lastTouched.delete(secretId));
  };
  const keyFor = (clientId: string, presented: string) =>
    createHash('sha256').update(clientId).update('\0').update(presented).digest('base64url');

  return {
    async verify(clientId, presented) {
      const hashes = await clients.activeSecretHashes(clientId);
      if (hashes.length === 0) return verifyDummy(presented);
      const key = keyFor(clientId, presented);
      const cached = cache.get(key);
      if (cached && cached.until > now() && hashes.some((h) => h.id === cached.secretId)) {
        touch(cached.secretId);
        return true;
      }
      cache.delete(key);
      for (const candidate of hashes) {
        if (await verifySecret(candidate.hash, presented)) {
          touch(candidate.id);
          if (ttlMs > 0) {
            const expiry = candidate.expiresAt ? candidate.expiresAt.getTime() : Infinity;
            if (cache.size >= CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
            cache.set(key, { clientId, secretId: candidate.id, until: Math.min(now() + ttlMs, expiry) });
          }
          return true;
        }
      }
      return false;
    },
    verifyUnknown: (presented) => verifyDummy(presented),
    invalidate(clientId) {
      for (const [key, entry] of cache) if (entry.clientId === clientId) cache.delete(key);
    },
    invalidateAll() {
      cache.clear();
    },
  };
}
