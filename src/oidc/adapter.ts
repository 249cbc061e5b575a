import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { ClientsRepo } from '../repos/clients.ts';
import type { ProviderModelsRepo } from '../repos/provider-models.ts';
import { clientMetadata } from './client-metadata.ts';

export interface AdapterDeps {
  models: ProviderModelsRepo;
  clients: ClientsRepo;
  /** A per-process placeholder secret; real secrets are verified against argon2id hashes. */
  placeholderSecret: string;
}

/**
 * oidc-provider's storage contract over Postgres. `Client` reads Keyhold's own clients table; every
 * other model lives in `oidc_payloads`.
 */
export function createAdapterFactory(deps: AdapterDeps): (name: string) => Adapter {
  return (name) => (name === 'Client' ? new ClientAdapter(deps) : new ModelAdapter(name, deps.models));
}

class ModelAdapter implements Adapter {
  readonly #model: string;
  readonly #repo: ProviderModelsRepo;

  constructor(model: string, repo: ProviderModelsRepo) {
    this.#model = model;
    this.#repo = repo;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.#repo.upsert(this.#model, id, payload as Record<string, unknown>, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return withConsumed(await this.#repo.find(this.#model, id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return withConsumed(await this.#repo.findByUid(this.#model, uid));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return withConsumed(await this.#repo.findByUserCode(this.#model, userCode));
  }

  /**
   * oidc-provider checks `consumed` and then calls this, which races under concurrent redemption.
   * The conditional UPDATE makes exactly one caller the winner; every loser is treated as a replay:
   * the grant is revoked and the request fails with invalid_grant.
   */
  async consume(id: string): Promise<void> {
    const { won, grantId } = await this.#repo.consume(this.#model, id);
    if (!won) {
      if (grantId) await this.#repo.revokeGrant(grantId);
      throw new errors.InvalidGrant(`${this.#model} already consumed`);
    }
  }

  async destroy(id: string): Promise<void> {
    await this.#repo.destroy(this.#model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#repo.revokeByGrantId(this.#model, grantId);
  }
}

function withConsumed(stored: { payload: Record<string, unknown>; consumed: boolean } | undefined): AdapterPayload | undefined {
  if (!stored) return undefined;
  return (stored.consumed ? { ...stored.payload, consumed: true } : stored.payload) as AdapterPayload;
}

/** Read-only: clients are managed through the admin API and CLI, never by the provider. */
class ClientAdapter implements Adapter {
  readonly #deps: AdapterDeps;

  constructor(deps: AdapterDeps) {
    this.#deps = deps;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const client = await this.#deps.clients.findById(id);
    if (!client || !client.enabled) return undefined;
    return clientMetadata(client, this.#deps.placeholderSecret) as AdapterPayload;
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
