import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { digest } from '../crypto/digest.ts';
import type { ExpectedClient, FoundModel, ModelRefs, ProviderModelsRepo, StoredModel } from '../repos/provider-models.ts';
import type { CachedClient, ClientCache } from './client-cache.ts';
import { authenticatedSecret, forgetRow, recallRow, rememberRow, rememberStaleClient, rememberUser, staleClient } from './request-scope.ts';

export interface AdapterDeps {
  models: ProviderModelsRepo;
  clients: ClientCache;
}

/**
 * oidc-provider's storage contract over Postgres. `Client` reads Keyhold's own clients (through the
 * instance's client cache); every other model lives in `oidc_payloads`.
 *
 * Nothing bearer at rest: a row is filed under the SHA-256 of its id (a code, a token, a session or
 * interaction id), and the id is taken out of the payload (`jti`, an interaction's return URL and its
 * copy of the session cookie), so a copied row or backup holds no value that works anywhere. The
 * provider always looks up by the value it was presented, which is digested again here.
 *
 * Every row stored for a client this instance holds cached is stored only while that client is still
 * at the cached version, and every row read comes with its client's current version, in the same
 * statement: a client changed on another instance (or a moment ago, before the notification arrived)
 * is never acted on (see client-cache.ts).
 */
export function createAdapterFactory(deps: AdapterDeps): (name: string) => Adapter {
  const lookups = createLookups(deps.models);
  return (name) => (name === 'Client' ? new ClientAdapter(deps.clients) : new ModelAdapter(name, deps.models, deps.clients, lookups));
}

/**
 * Ids are unique across models, so one query by digest answers for every model. The engine looks a
 * presented token up as an access token, a client-credentials token and a refresh token at once
 * (without `token_type_hint`); concurrent lookups of one digest share a single query.
 */
function createLookups(models: ProviderModelsRepo) {
  const inFlight = new Map<string, Promise<FoundModel | undefined>>();
  return (key: string): Promise<StoredModel | undefined> => {
    // The grant or user of a token this request already read came with it (request-scope.ts).
    const known = recallRow(key);
    if (known) return Promise.resolve(known);
    let pending = inFlight.get(key);
    if (!pending) {
      pending = models.find(key).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending.then((found) => {
      if (found?.grant) rememberRow(found.grant.key, found.grant.row);
      if (found?.user) rememberUser(found.user);
      return found;
    });
  };
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);

/** The secret that authenticated this request is still one of the client's, unexpired. */
function secretStillValid(client: CachedClient, secretId: string): boolean {
  const secret = [...client.secretsByDigest.values(), ...client.legacySecrets].find((s) => s.id === secretId);
  return secret !== undefined && (secret.expiresAt === null || secret.expiresAt.getTime() > Date.now());
}

/**
 * What the engine checks a request against: a change to any of it while a request is served ends the
 * request. The name and the token lifetime may change under a request without harm.
 */
function checkedRules(client: CachedClient): string {
  const { client_name: _name, keyhold_access_token_lifetime: _lifetime, ...rules } = client.metadata;
  return JSON.stringify(rules);
}

/**
 * The payload as stored: without the id (`jti`), and for an interaction without its return URL's id
 * and its copy of the session cookie's value, which nothing reads back (restored by `#restore`).
 */
function withoutBearerValues(model: string, id: string, payload: AdapterPayload): Record<string, unknown> {
  const { jti: _jti, ...stored } = payload as Record<string, unknown>;
  if (model !== 'Interaction') return stored;
  const returnTo = text(stored.returnTo);
  if (returnTo?.endsWith(`/${id}`)) {
    delete stored.returnTo;
    stored.returnToBase = returnTo.slice(0, -id.length);
  }
  const session = stored.session as Record<string, unknown> | undefined;
  if (session && 'cookie' in session) {
    const { cookie: _cookie, ...rest } = session;
    stored.session = rest;
  }
  return stored;
}

/** The columns a row is filed under besides its key; uid and user code as digests. */
function refsOf(model: string, id: string, payload: AdapterPayload): ModelRefs {
  const uid = text(payload.uid);
  const userCode = text(payload.userCode);
  return {
    grantId: model === 'Grant' ? id : text(payload.grantId),
    uidDigest: uid ? digest(uid) : null,
    userCodeDigest: userCode ? digest(userCode) : null,
    accountId: text(payload.accountId),
    clientId: text(payload.clientId),
  };
}

/**
 * True when Postgres cannot store `value` as jsonb: a string (or key) holding U+0000. Such a value only
 * ever comes from a request parameter (a `nonce`, a `login_hint`), and is refused as invalid_request
 * rather than failing the insert.
 */
function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(holdsNul);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([key, item]) => holdsNul(key) || holdsNul(item));
  return false;
}

/** How many times a write re-checks a client that keeps changing under it before giving up. */
const MAX_CLIENT_RECHECKS = 3;

class ModelAdapter implements Adapter {
  readonly #model: string;
  readonly #repo: ProviderModelsRepo;
  readonly #clients: ClientCache;
  readonly #lookup: (key: string) => Promise<StoredModel | undefined>;

  constructor(model: string, repo: ProviderModelsRepo, clients: ClientCache, lookup: (key: string) => Promise<StoredModel | undefined>) {
    this.#model = model;
    this.#repo = repo;
    this.#clients = clients;
    this.#lookup = lookup;
  }

  /**
   * The cached client changed since the request was checked against it: drop the copy and check the
   * request against the client as it is now. A client disabled or deleted, or a secret removed, ends it
   * as a failed client authentication; a change to what the engine checked the request against (its
   * URLs, grant and response types, scope, CORS origins) ends it as a request to send again; any other
   * change (a new name, another secret) lets it go on.
   */
  async #recheck(clientId: string, servedFrom: CachedClient | undefined): Promise<ExpectedClient> {
    this.#clients.invalidate(clientId);
    const fresh = await this.#clients.find(clientId);
    if (!fresh || !fresh.client.enabled) throw new errors.InvalidClientAuth();
    const secretId = authenticatedSecret(clientId);
    if (secretId !== undefined && !secretStillValid(fresh, secretId)) throw new errors.InvalidClientAuth();
    if (servedFrom && checkedRules(servedFrom) !== checkedRules(fresh)) {
      throw new errors.InvalidRequest('the client was changed while this request was served: send the request again');
    }
    return { clientId, version: fresh.client.version };
  }

  /** A row read with its client's current version: a cached copy at another version is stale. */
  #noteClientVersion(stored: StoredModel): void {
    const clientId = text(stored.payload.clientId);
    const cached = clientId ? this.#clients.peek(clientId) : undefined;
    if (clientId && cached && cached.client.version !== stored.clientVersion) {
      rememberStaleClient(clientId, cached);
      this.#clients.invalidate(clientId);
    }
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = digest(id);
    const refs = refsOf(this.#model, id, payload);
    const stored = withoutBearerValues(this.#model, id, payload);
    if (holdsNul(stored)) throw new errors.InvalidRequest('request parameters must not contain U+0000');
    forgetRow(key);
    // A row for a client this instance serves from its cache is stored only while the client is at the
    // cached version; a copy that a read of this request already found stale is re-checked first.
    const clientId = refs.clientId;
    const stale = clientId ? staleClient(clientId) : undefined;
    const servedFrom = stale ?? (clientId ? this.#clients.peek(clientId) : undefined);
    let expect: ExpectedClient | undefined;
    if (clientId && stale) expect = await this.#recheck(clientId, stale);
    else if (clientId && servedFrom) expect = { clientId, version: servedFrom.client.version };
    for (let attempt = 0; !(await this.#repo.upsert(this.#model, key, stored, refs, expiresIn, expect)); attempt++) {
      if (attempt === MAX_CLIENT_RECHECKS) throw new Error(`client ${clientId} kept changing while a ${this.#model} was stored`);
      expect = await this.#recheck(clientId!, servedFrom);
    }
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const stored = await this.#lookup(digest(id));
    if (stored) this.#noteClientVersion(stored);
    return stored?.model === this.#model ? this.#restore(id, stored) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    // A session's uid is not its id; an interaction's uid is (the engine finds those by id).
    const stored = await this.#repo.findByUid(this.#model, digest(uid));
    if (!stored) return undefined;
    this.#noteClientVersion(stored);
    const id = this.#model === 'Interaction' ? uid : undefined;
    return this.#restore(id, stored);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const stored = await this.#repo.findByUserCode(this.#model, digest(userCode));
    if (stored) this.#noteClientVersion(stored);
    return stored ? this.#restore(undefined, stored) : undefined;
  }

  /**
   * oidc-provider checks `consumed` and then calls this, which races under concurrent redemption.
   * The conditional UPDATE makes exactly one caller the winner; every loser is treated as a replay:
   * the grant is revoked and the request fails with invalid_grant.
   */
  async consume(id: string): Promise<void> {
    forgetRow(digest(id));
    const { won, grantId } = await this.#repo.consume(this.#model, digest(id));
    if (!won) {
      if (grantId) {
        forgetRow(digest(grantId));
        await this.#repo.revokeGrant(grantId);
      }
      throw new errors.InvalidGrant(`${this.#model} already consumed`);
    }
  }

  async destroy(id: string): Promise<void> {
    forgetRow(digest(id));
    await this.#repo.destroy(this.#model, digest(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#repo.revokeByGrantId(this.#model, grantId);
  }

  /** The payload as the engine wrote it (less the session cookie copy), given the id it was found by. */
  #restore(id: string | undefined, stored: StoredModel): AdapterPayload {
    const payload: Record<string, unknown> = { ...stored.payload };
    if (id !== undefined) {
      payload.jti = id;
      if (typeof payload.returnToBase === 'string') payload.returnTo = `${payload.returnToBase}${id}`;
    }
    delete payload.returnToBase;
    if (stored.consumed) payload.consumed = true;
    return payload as AdapterPayload;
  }
}

/** Read-only: clients are managed through the admin API and CLI, never by the provider. */
class ClientAdapter implements Adapter {
  readonly #cache: ClientCache;

  constructor(cache: ClientCache) {
    this.#cache = cache;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    let entry = await this.#cache.find(id);
    // A refusal is never taken from the cache: a client enabled a moment ago elsewhere works at once.
    if (entry && !entry.client.enabled) entry = await this.#cache.refresh(id);
    if (!entry || !entry.client.enabled) return undefined;
    return entry.metadata as AdapterPayload;
  }

  async upsert(): Promise<void> {
    throw new Error('clients are managed through Keyhold, not the provider');
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {
    throw new Error('clients cannot be consumed');
  }

  async destroy(): Promise<void> {
    throw new Error('clients are managed through Keyhold, not the provider');
  }

  async revokeByGrantId(): Promise<void> {
    // Clients hold no grants.
  }
}
