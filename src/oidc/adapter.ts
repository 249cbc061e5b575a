import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { digest } from '../crypto/digest.ts';
import type { ModelRefs, ProviderModelsRepo, StoredModel } from '../repos/provider-models.ts';
import type { ClientCache } from './client-cache.ts';

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
 */
export function createAdapterFactory(deps: AdapterDeps): (name: string) => Adapter {
  const lookups = createLookups(deps.models);
  return (name) => (name === 'Client' ? new ClientAdapter(deps.clients) : new ModelAdapter(name, deps.models, lookups));
}

/**
 * Ids are unique across models, so one query by digest answers for every model. The engine looks a
 * presented token up as an access token, a client-credentials token and a refresh token at once
 * (without `token_type_hint`); concurrent lookups of one digest share a single query.
 */
function createLookups(models: ProviderModelsRepo) {
  const inFlight = new Map<string, Promise<StoredModel | undefined>>();
  return (key: string): Promise<StoredModel | undefined> => {
    let pending = inFlight.get(key);
    if (!pending) {
      pending = models.find(key).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);

class ModelAdapter implements Adapter {
  readonly #model: string;
  readonly #repo: ProviderModelsRepo;
  readonly #lookup: (key: string) => Promise<StoredModel | undefined>;

  constructor(model: string, repo: ProviderModelsRepo, lookup: (key: string) => Promise<StoredModel | undefined>) {
    this.#model = model;
    this.#repo = repo;
    this.#lookup = lookup;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const stored: Record<string, unknown> = { ...payload };
    delete stored.jti;
    if (this.#model === 'Interaction') {
      // The return URL ends with the interaction's id; the session copy holds the session cookie's
      // value, which nothing reads back.
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
    }
    const uid = text(payload.uid);
    const userCode = text(payload.userCode);
    const refs: ModelRefs = {
      grantId: this.#model === 'Grant' ? id : text(payload.grantId),
      uidDigest: uid ? digest(uid) : null,
      userCodeDigest: userCode ? digest(userCode) : null,
      accountId: text(payload.accountId),
      clientId: text(payload.clientId),
    };
    await this.#repo.upsert(this.#model, digest(id), stored, refs, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const stored = await this.#lookup(digest(id));
    return stored?.model === this.#model ? this.#restore(id, stored) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    // A session's uid is not its id; an interaction's uid is (the engine finds those by id).
    const stored = await this.#repo.findByUid(this.#model, digest(uid));
    if (!stored) return undefined;
    const id = this.#model === 'Interaction' ? uid : undefined;
    return this.#restore(id, stored);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const stored = await this.#repo.findByUserCode(this.#model, digest(userCode));
    return stored ? this.#restore(undefined, stored) : undefined;
  }

  /**
   * oidc-provider checks `consumed` and then calls this, which races under concurrent redemption.
   * The conditional UPDATE makes exactly one caller the winner; every loser is treated as a replay:
   * the grant is revoked and the request fails with invalid_grant.
   */
  async consume(id: string): Promise<void> {
    const { won, grantId } = await this.#repo.consume(this.#model, digest(id));
    if (!won) {
      if (grantId) await this.#repo.revokeGrant(grantId);
      throw new errors.InvalidGrant(`${this.#model} already consumed`);
    }
  }

  async destroy(id: string): Promise<void> {
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
    const entry = await this.#cache.find(id);
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
