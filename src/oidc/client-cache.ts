import type { Client, ClientsRepo, SecretCheck } from '../repos/clients.ts';
import { clientMetadata } from './client-metadata.ts';

/** A client as the provider and client authentication need it, read and validated once per change. */
export interface CachedClient {
  client: Client;
  /** oidc-provider metadata; the same object while the client is unchanged, so the engine keeps its instance. */
  metadata: Record<string, unknown>;
  /** Secrets with a digest, by digest: client authentication is one map lookup. */
  secretsByDigest: ReadonlyMap<string, SecretCheck>;
  /** Secrets issued before digests, not yet used since (argon2id). */
  legacySecrets: readonly SecretCheck[];
}

export interface ClientCache {
  /** The client (enabled or not), or undefined when there is none with that id. */
  find(id: string): Promise<CachedClient | undefined>;
  /** A change to this client was announced. */
  invalidate(id: string): void;
  /** Changes may have been missed (the LISTEN connection went down or came back). */
  clear(): void;
}

export interface ClientCacheDeps {
  clients: Pick<ClientsRepo, 'findWithSecretChecks'>;
  /** True while change notifications are heard; otherwise every find reads through. */
  isLive: () => boolean;
  /** The provider never sees real secrets; see client-metadata.ts. */
  placeholderSecret: string;
  /** Clients (and unknown ids) kept; the oldest goes first. */
  maxEntries?: number;
}

/**
 * Each instance keeps the clients it served, and the ids it found no client for, until a change to
 * that client is announced (Postgres NOTIFY, see app.ts). While the LISTEN connection is down nothing
 * is cached and every find reads the database, so no instance serves a client that changed elsewhere.
 * A read that overlaps any announced change is served but not kept.
 */
export function createClientCache({ clients, isLive, placeholderSecret, maxEntries = 10_000 }: ClientCacheDeps): ClientCache {
  const entries = new Map<string, CachedClient | null>();
  let epoch = 0;

  function build(loaded: { client: Client; secrets: SecretCheck[] }): CachedClient {
    const withDigest = loaded.secrets.filter((s) => s.digest !== null).map((s) => [s.digest!, s] as const);
    return {
      client: loaded.client,
      metadata: clientMetadata(loaded.client, placeholderSecret),
      secretsByDigest: new Map(withDigest),
      legacySecrets: loaded.secrets.filter((s) => s.digest === null && s.legacyHash !== null),
    };
  }

  return {
    async find(id) {
      if (isLive()) {
        const cached = entries.get(id);
        if (cached !== undefined) return cached ?? undefined;
      }
      const started = epoch;
      const loaded = await clients.findWithSecretChecks(id);
      const entry = loaded ? build(loaded) : null;
      if (isLive() && epoch === started) {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
        entries.set(id, entry);
      }
      return entry ?? undefined;
    },
    invalidate(id) {
      epoch++;
      entries.delete(id);
    },
    clear() {
      epoch++;
      entries.clear();
    },
  };
}
