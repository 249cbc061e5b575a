import { z } from 'zod';
import { conflict, notFound, preconditionFailed } from '../errors.ts';
import { mixProblems } from '../redirect-uris.ts';
import {
  CLIENT_TYPES,
  MAX_SECRETS_PER_CLIENT,
  TooManySecretsError,
  type Client,
  type ClientSecret,
  type ClientsRepo,
  type ClientType,
} from '../repos/clients.ts';
import type { ProviderModelsRepo } from '../repos/provider-models.ts';
import { FIELDS_BY_TYPE } from '../rules/client-rules.js';
import type { AuditEventType, AuditTarget, AuditTrail } from '../audit.ts';
import { changedFields, type AuditContext } from './audit-context.ts';
import { clientInput, hasSecrets, type ClientField } from './client-input.ts';
import { newSecret, secretInputSchema, type SecretInput } from './secret-input.ts';
import { describeIfMatch, ifMatches, type Precondition } from './preconditions.ts';
import {
  invalid,
  isPlainObject,
  likeLiteral,
  page,
  pageQuery,
  parseOrThrow,
  searchQuery,
  type Page,
} from './validation.ts';

/**
 * Clients and their secrets, with every rule of the admin API (docs/clients.md); what a client's fields
 * may hold is in client-input.ts.
 * The admin API routes and the CLI both go through here, so they accept, refuse and answer alike.
 */

export interface SecretView {
  id: string;
  description: string;
  expiresAt: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface NewSecretView extends SecretView {
  /** The secret itself: shown this once, never stored. */
  value: string;
}

export interface ClientView {
  id: string;
  type: ClientType;
  name: string;
  enabled: boolean;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  allowRefreshToken?: boolean;
  accessTokenLifetime: number;
  allowedCorsOrigins?: string[];
  roles?: string[];
  secrets?: SecretView[];
  createdAt: string;
  updatedAt: string;
  /** Bumped by every change to the client or its secrets: its ETag, and what If-Match names. */
  version: number;
}

function serializeSecret(secret: ClientSecret): SecretView {
  return {
    id: secret.id,
    description: secret.description,
    expiresAt: secret.expiresAt?.toISOString() ?? null,
    createdAt: secret.createdAt.toISOString(),
    lastUsedAt: secret.lastUsedAt?.toISOString() ?? null,
  };
}

/** A client as the API shows it: only the fields of its type, secrets without values or hashes. */
function serializeClient(client: Client, secrets: ClientSecret[]): ClientView {
  const has = (field: ClientField) => FIELDS_BY_TYPE[client.type].includes(field);
  return {
    id: client.id,
    type: client.type,
    name: client.name,
    enabled: client.enabled,
    ...(has('redirectUris') ? { redirectUris: client.redirectUris } : {}),
    ...(has('postLogoutRedirectUris') ? { postLogoutRedirectUris: client.postLogoutRedirectUris } : {}),
    ...(has('allowRefreshToken') ? { allowRefreshToken: client.allowRefreshToken } : {}),
    accessTokenLifetime: client.accessTokenLifetime,
    ...(has('allowedCorsOrigins') ? { allowedCorsOrigins: client.allowedCorsOrigins } : {}),
    ...(has('roles') ? { roles: client.roles } : {}),
    ...(hasSecrets(client.type) ? { secrets: secrets.map(serializeSecret) } : {}),
    createdAt: client.createdAt.toISOString(),
    updatedAt: client.updatedAt.toISOString(),
    version: client.version,
  };
}


export const listQuerySchema = z.strictObject({
  type: z.enum(CLIENT_TYPES, { error: `must be one of ${CLIENT_TYPES.join(', ')}` }).optional(),
  q: searchQuery,
  ...pageQuery,
});

const notFoundClient = (id: string) => notFound(`there is no client with id ${JSON.stringify(id)}`);
const tooManySecrets = () => conflict(`a client holds at most ${MAX_SECRETS_PER_CLIENT} secrets: delete one first`);

export interface ClientsServiceDeps {
  clients: ClientsRepo;
  models: Pick<ProviderModelsRepo, 'revokeByClientId'>;
  audit: Pick<AuditTrail, 'record'>;
}

/** A client's fields that an event shows (what the API shows, without its secrets and timestamps). */
function auditView(client: Client): Record<string, unknown> {
  const { secrets: _secrets, createdAt: _createdAt, updatedAt: _updatedAt, version: _version, ...view } = serializeClient(client, []);
  return view;
}

export function createClientsService({ clients, models, audit }: ClientsServiceDeps) {
  const event = (by: AuditContext, type: AuditEventType, client: Pick<Client, 'id' | 'name'>, details: Record<string, unknown>, target?: AuditTarget) => ({
    type,
    actor: by.actor,
    target: target ?? { kind: 'client' as const, id: client.id, name: client.name },
    clientId: client.id,
    address: by.address ?? null,
    outcome: 'success' as const,
    details,
  });

  async function existing(id: string): Promise<Client> {
    const client = await clients.findById(id);
    if (!client) throw notFoundClient(id);
    return client;
  }

  /** The client as the API shows it, with its secrets read when its type has them. */
  const withSecrets = async (client: Client): Promise<ClientView> => serializeClient(client, hasSecrets(client.type) ? await clients.listSecrets(client.id) : []);
  const view = async (id: string) => withSecrets(await existing(id));

  /** The 412 for a change whose If-Match the client no longer meets, with the client as it is now (read once the refused change's transaction ended). */
  async function stale(id: string, { ifMatch }: Precondition) {
    return preconditionFailed(`client ${id}`, describeIfMatch(ifMatch ?? ''), await view(id));
  }

  return {
    /** Validates and creates a client; hybrid and client-credentials clients get a first secret, whose value is returned this once. */
    async create(body: unknown, by: AuditContext): Promise<{ client: ClientView; secret?: NewSecretView }> {
      if (!isPlainObject(body)) throw invalid([{ path: '', code: 'not-an-object', message: 'the body must be a JSON object' }]);
      const type = body.type;
      if (typeof type !== 'string' || !(CLIENT_TYPES as readonly string[]).includes(type)) {
        const message = `must be one of ${CLIENT_TYPES.join(', ')}`;
        throw invalid([type === undefined ? { path: 'type', code: 'required', message } : { path: 'type', code: 'invalid-value', message, allowed: [...CLIENT_TYPES] }]);
      }
      const clientType = type as ClientType;
      const input = clientInput(body, clientType, 'create');
      const redirectUris = (input.redirectUris as string[] | undefined) ?? [];
      const postLogoutRedirectUris = (input.postLogoutRedirectUris as string[] | undefined) ?? [];
      const mix = mixProblems(redirectUris, postLogoutRedirectUris);
      if (mix.length) throw invalid(mix);

      const secret = hasSecrets(clientType) ? newSecret(input.secret as SecretInput | undefined) : undefined;
      const created = await clients.transaction(async (tx) => {
        const made = await tx.create(
        {
          type: clientType,
          name: input.name as string,
          ...(input.enabled !== undefined ? { enabled: input.enabled as boolean } : {}),
          redirectUris,
          postLogoutRedirectUris,
          ...(input.allowRefreshToken !== undefined ? { allowRefreshToken: input.allowRefreshToken as boolean } : {}),
          ...(input.accessTokenLifetime !== undefined ? { accessTokenLifetime: input.accessTokenLifetime as number } : {}),
          ...(input.allowedCorsOrigins !== undefined ? { allowedCorsOrigins: input.allowedCorsOrigins as string[] } : {}),
          ...(input.roles !== undefined ? { roles: input.roles as string[] } : {}),
        },
        secret?.stored,
        );
        await audit.record(tx.db, event(by, 'client.created', made.client, {
          after: auditView(made.client),
          ...(made.secret ? { secret: { id: made.secret.id, description: made.secret.description, expiresAt: made.secret.expiresAt?.toISOString() ?? null } } : {}),
        }));
        return made;
      });
      const view = serializeClient(created.client, created.secret ? [created.secret] : []);
      return secret && created.secret ? { client: view, secret: { ...serializeSecret(created.secret), value: secret.value } } : { client: view };
    },

    async get(id: string): Promise<ClientView> {
      return view(id);
    },

    /** One page of clients, oldest first; `query` is the query string as received. */
    async list(query: unknown): Promise<Page<ClientView>> {
      const q = parseOrThrow(listQuerySchema, query ?? {});
      return page(
        q,
        async ({ limit, after }) => {
          const rows = await clients.list({ ...(q.type ? { type: q.type } : {}), ...(q.q ? { search: likeLiteral(q.q) } : {}), limit, ...(after ? { after } : {}) });
          const secrets = await clients.secretsOf(rows.filter((c) => hasSecrets(c.type)).map((c) => c.id));
          return rows.map((client) => ({ id: client.id, createdAt: client.createdAt, client, secrets: secrets.get(client.id) ?? [] }));
        },
        (row) => serializeClient(row.client, row.secrets),
      );
    },

    /**
     * Changes the fields given; absent fields stay. In force on the next request on every instance.
     * With `ifMatch`, only while the client is at a version it names (checked under the row lock), else a 412.
     */
    async update(id: string, body: unknown, by: AuditContext, precondition: Precondition = {}): Promise<ClientView> {
      const client = await existing(id);
      if (!isPlainObject(body)) throw invalid([{ path: '', code: 'not-an-object', message: 'the body must be a JSON object' }]);
      const changes = clientInput(body, client.type, 'update');
      const mix = mixProblems(
        (changes.redirectUris as string[] | undefined) ?? client.redirectUris,
        (changes.postLogoutRedirectUris as string[] | undefined) ?? client.postLogoutRedirectUris,
      );
      if (mix.length) throw invalid(mix);
      const updated = await clients.transaction(async (tx) => {
        const before = await tx.lock(id);
        if (before && !ifMatches(precondition, before.version)) return undefined;
        const after = before && (await tx.update(id, changes));
        if (!before || !after) throw notFoundClient(id);
        await audit.record(tx.db, event(by, 'client.updated', after, changedFields(auditView(before), auditView(after))));
        return after;
      });
      if (!updated) throw await stale(id, precondition);
      return withSecrets(updated);
    },

    /** Deletes a client; every token, code and grant issued to it goes with it, in the same transaction. With `ifMatch`, as update. */
    async delete(id: string, by: AuditContext, precondition: Precondition = {}): Promise<void> {
      const deleted = await clients.transaction(async (tx) => {
        const before = await tx.lock(id);
        if (before && !ifMatches(precondition, before.version)) return false;
        if (!before || !(await tx.delete(id))) throw notFoundClient(id);
        await models.revokeByClientId(id, tx.db);
        await audit.record(tx.db, event(by, 'client.deleted', before, { before: auditView(before) }));
        return true;
      });
      if (!deleted) throw await stale(id, precondition);
    },

    async listSecrets(id: string): Promise<SecretView[]> {
      await existing(id);
      return (await clients.listSecrets(id)).map(serializeSecret);
    },

    /** Adds a secret; its value is in the answer and nowhere else, ever. `version`: the client's, which adding it bumped. */
    async addSecret(id: string, body: unknown, by: AuditContext): Promise<{ secret: NewSecretView; version: number }> {
      const client = await existing(id);
      if (!hasSecrets(client.type)) throw conflict(`${client.type} clients are public: they hold no secrets`);
      const input = parseOrThrow(secretInputSchema, body === undefined ? {} : body);
      const secret = newSecret(input);
      try {
        const { stored, version } = await clients.transaction(async (tx) => {
          const added = await tx.addSecret(id, secret.stored);
          await audit.record(tx.db, event(by, 'client.secret_created', client, { description: added.description, expiresAt: added.expiresAt?.toISOString() ?? null }, { kind: 'secret', id: added.id }));
          // The row is locked since the secret went in: this is the version that change left.
          const now = await tx.lock(id);
          if (!now) throw notFoundClient(id);
          return { stored: added, version: now.version };
        });
        return { secret: { ...serializeSecret(stored), value: secret.value }, version };
      } catch (err) {
        if (err instanceof TooManySecretsError) throw tooManySecrets();
        throw err;
      }
    },

    /** Deletes a secret: it fails at the token endpoint from the next request on. */
    async deleteSecret(id: string, secretId: string, by: AuditContext): Promise<void> {
      const client = await existing(id);
      await clients.transaction(async (tx) => {
        if (!(await tx.deleteSecret(id, secretId))) throw notFound(`client ${id} has no secret with id ${JSON.stringify(secretId)}`);
        await audit.record(tx.db, event(by, 'client.secret_deleted', client, {}, { kind: 'secret', id: secretId }));
      });
    },
  };
}

export type ClientsService = ReturnType<typeof createClientsService>;
