import type { Client, ClientsRepo, SecretCheck } from '../repos/clients.ts';
import { clientMetadata } from './client-metadata.ts';

/** A client as the provider and client authentication need it, read and validated once per change. */
export interface CachedClient {
  client: Client;
  /** oidc-provider metadata; the engine keeps one validated instance per distinct metadata. */
  metadata: Record<string, unknown>;
  /** Secrets with a digest, by digest: client authentication is one map lookup. */
  secretsByDigest: ReadonlyMap<string, SecretCheck>;
  /** Secrets issued before digests, not yet used since (argon2id). */
  legacySecrets: readonly SecretCheck[];
}

export interface ClientCache {
  /** The client (enabled or not), or undefined when there is none with that id. */
  find(id: string): Promise<CachedClient | undefined>;
  /** The client as the database has it now, kept in place of the cached copy. */
  refresh(id: string): Promise<CachedClient | undefined>;
  /** The cached client, if this instance holds one (no database access). */
  peek(id: string): CachedClient | undefined;
  /** A change to this client was announced, or a version check found the cached copy stale. */
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
  /** Clients kept; the oldest goes first. */
  maxEntries?: number;
}

/**
 * Each instance keeps the clients it served until a change to that client is announced (Postgres NOTIFY, see app.ts). While the LISTEN connection is down nothing
 * is cached and every find reads the database. A read that overlaps any announced change is served but
 * not kept.
 *
 * A notification reaches other instances a moment after the change commits. To close that moment, each
 * cached client carries its version, and the adapter checks it in the same statement as every token
 * it stores or reads (see adapter.ts): a stale copy is dropped and the request re-checked against the
 * database, so no instance acts on a client that changed. The other way round, a miss is never
 * trusted: an unknown id is read every time, and a secret not found in the cached copy is looked for
 * again in the database (secret rotation on another instance), so a client or secret created a moment
 * ago works at once everywhere, and an unknown client and a wrong secret cost the same one query.
 */
export function createClientCache({ clients, isLive, placeholderSecret, maxEntries = 10_000 }: ClientCacheDeps): ClientCache {
  const entries = new Map<string, CachedClient>();
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

  async function read(id: string): Promise<CachedClient | undefined> {
    const started = epoch;
    const loaded = await clients.findWithSecretChecks(id);
    if (!loaded) {
      entries.delete(id);
      return undefined;
    }
    const entry = build(loaded);
    if (isLive() && epoch === started) {
      if (!entries.has(id) && entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(id, entry);
    }
    return entry;
  }

  return {
    async find(id) {
      const cached = isLive() ? entries.get(id) : undefined;
      return cached ?? read(id);
    },
    refresh: read,
    peek(id) {
      return isLive() ? entries.get(id) : undefined;
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
