import { z } from 'zod';
import { conflict, notFound, type FieldProblem } from '../errors.ts';
import { corsOriginProblem, mixProblems, quote, redirectUriProblem } from '../redirect-uris.ts';
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
import { CLIENT_ROLES } from '../roles.ts';
import type { AuditEventType, AuditTarget, AuditTrail } from '../audit.ts';
import { changedFields, type AuditContext } from './audit-context.ts';
import { newSecret, secretInputSchema, type SecretInput } from './secret-input.ts';
import { invalid, isPlainObject, noDuplicates, page, pageQuery, parseOrThrow, text, fieldProblems, type Page } from './validation.ts';

/**
 * Clients and their secrets, with every rule of the admin API (docs/clients.md).
 * The admin API routes and the CLI both go through here, so they accept, refuse and answer alike.
 */

const MAX_URIS = 10;

function uriList(min: number, check: (value: string) => string | undefined) {
  return z
    .array(z.string().superRefine((value, ctx) => {
      const problem = check(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }))
    .min(min, min === 1 ? 'must list at least one URL' : `must list at least ${min} URLs`)
    .max(MAX_URIS, `must list at most ${MAX_URIS} URLs`)
    .superRefine(noDuplicates(quote));
}

const lifetimeRule = 'must be a whole number of seconds from 60 to 3600';
const fields = {
  name: text(1, 100),
  enabled: z.boolean(),
  redirectUris: uriList(1, redirectUriProblem),
  postLogoutRedirectUris: uriList(0, redirectUriProblem),
  allowRefreshToken: z.boolean(),
  accessTokenLifetime: z.int({ error: lifetimeRule }).min(60, lifetimeRule).max(3600, lifetimeRule),
  allowedCorsOrigins: uriList(0, corsOriginProblem),
  roles: z
    .array(z.enum(CLIENT_ROLES, { error: `must be one of ${CLIENT_ROLES.map((r) => `"${r}"`).join(', ')}` }))
    .superRefine(noDuplicates()),
};
type FieldName = keyof typeof fields;

/** Which fields each type of client has (docs/clients.md). */
const FIELDS_BY_TYPE: Record<ClientType, FieldName[]> = {
  hybrid: ['name', 'enabled', 'redirectUris', 'postLogoutRedirectUris', 'allowRefreshToken', 'accessTokenLifetime'],
  'authorization-code': ['name', 'enabled', 'redirectUris', 'postLogoutRedirectUris', 'accessTokenLifetime', 'allowedCorsOrigins'],
  'client-credentials': ['name', 'enabled', 'accessTokenLifetime', 'roles'],
};
/** Types whose clients authenticate with secrets. */
export const TYPES_WITH_SECRETS: readonly ClientType[] = ['hybrid', 'client-credentials'];
const hasSecrets = (type: ClientType) => TYPES_WITH_SECRETS.includes(type);
const SERVER_SET = ['id', 'createdAt', 'updatedAt', 'secrets'];


export function schemaFor(type: ClientType, mode: 'create' | 'update') {
  const shape: Record<string, z.ZodType> = {};
  for (const name of FIELDS_BY_TYPE[type]) {
    const required = mode === 'create' && (name === 'name' || name === 'redirectUris');
    shape[name] = required ? fields[name] : fields[name].optional();
  }
  if (mode === 'create') {
    shape.type = z.literal(type);
    if (hasSecrets(type)) shape.secret = secretInputSchema.optional();
  }
  return z.strictObject(shape);
}

/** Problems with keys that are known but do not belong here: set by the server, fixed, or of another type. */
function misplacedKeys(body: Record<string, unknown>, type: ClientType, mode: 'create' | 'update'): { problems: FieldProblem[]; rest: Record<string, unknown> } {
  const problems: FieldProblem[] = [];
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (SERVER_SET.includes(key)) problems.push({ path: key, message: 'is set by the server and cannot be written' });
    else if (key === 'type' && mode === 'update') problems.push({ path: key, message: 'is fixed at creation' });
    else if (key === 'secret' && mode === 'create' && !hasSecrets(type)) problems.push({ path: key, message: `${type} clients are public: they hold no secrets` });
    else if (Object.hasOwn(fields, key) && !FIELDS_BY_TYPE[type].includes(key as FieldName)) problems.push({ path: key, message: `does not apply to ${type} clients` });
    else rest[key] = value;
  }
  return { problems, rest };
}

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
  const has = (field: FieldName) => FIELDS_BY_TYPE[client.type].includes(field);
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
  };
}


export const listQuerySchema = z.strictObject({
  type: z.enum(CLIENT_TYPES, { error: `must be one of ${CLIENT_TYPES.join(', ')}` }).optional(),
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
  const { secrets: _secrets, createdAt: _createdAt, updatedAt: _updatedAt, ...view } = serializeClient(client, []);
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

  return {
    /** Validates and creates a client; hybrid and client-credentials clients get a first secret, whose value is returned this once. */
    async create(body: unknown, by: AuditContext): Promise<{ client: ClientView; secret?: NewSecretView }> {
      if (!isPlainObject(body)) throw invalid([{ path: '', message: 'the body must be a JSON object' }]);
      const type = body.type;
      if (typeof type !== 'string' || !(CLIENT_TYPES as readonly string[]).includes(type)) {
        throw invalid([{ path: 'type', message: `must be one of ${CLIENT_TYPES.join(', ')}` }]);
      }
      const clientType = type as ClientType;
      const { problems, rest } = misplacedKeys(body, clientType, 'create');
      const parsed = schemaFor(clientType, 'create').safeParse(rest);
      if (!parsed.success) problems.push(...fieldProblems(parsed.error));
      if (problems.length) throw invalid(problems);
      const input = parsed.data as Record<string, unknown>;
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
      const client = await existing(id);
      return serializeClient(client, hasSecrets(client.type) ? await clients.listSecrets(id) : []);
    },

    /** One page of clients, oldest first; `query` is the query string as received. */
    async list(query: unknown): Promise<Page<ClientView>> {
      const q = parseOrThrow(listQuerySchema, query ?? {});
      return page(
        q,
        async ({ limit, after }) => {
          const rows = await clients.list({ ...(q.type ? { type: q.type } : {}), limit, ...(after ? { after } : {}) });
          const secrets = await clients.secretsOf(rows.filter((c) => hasSecrets(c.type)).map((c) => c.id));
          return rows.map((client) => ({ id: client.id, createdAt: client.createdAt, client, secrets: secrets.get(client.id) ?? [] }));
        },
        (row) => serializeClient(row.client, row.secrets),
      );
    },

    /** Changes the fields given; absent fields stay. In force on the next request on every instance. */
    async update(id: string, body: unknown, by: AuditContext): Promise<ClientView> {
      const client = await existing(id);
      if (!isPlainObject(body)) throw invalid([{ path: '', message: 'the body must be a JSON object' }]);
      const { problems, rest } = misplacedKeys(body, client.type, 'update');
      const parsed = schemaFor(client.type, 'update').safeParse(rest);
      if (!parsed.success) problems.push(...fieldProblems(parsed.error));
      if (problems.length) throw invalid(problems);
      const changes = parsed.data as Record<string, unknown>;
      const mix = mixProblems(
        (changes.redirectUris as string[] | undefined) ?? client.redirectUris,
        (changes.postLogoutRedirectUris as string[] | undefined) ?? client.postLogoutRedirectUris,
      );
      if (mix.length) throw invalid(mix);
      const updated = await clients.transaction(async (tx) => {
        const before = await tx.lock(id);
        const after = before && (await tx.update(id, changes));
        if (!before || !after) throw notFoundClient(id);
        await audit.record(tx.db, event(by, 'client.updated', after, changedFields(auditView(before), auditView(after))));
        return after;
      });
      return serializeClient(updated, hasSecrets(updated.type) ? await clients.listSecrets(id) : []);
    },

    /** Deletes a client; every token, code and grant issued to it goes with it, in the same transaction. */
    async delete(id: string, by: AuditContext): Promise<void> {
      await clients.transaction(async (tx) => {
        const before = await tx.lock(id);
        if (!before || !(await tx.delete(id))) throw notFoundClient(id);
        await models.revokeByClientId(id, tx.db);
        await audit.record(tx.db, event(by, 'client.deleted', before, { before: auditView(before) }));
      });
    },

    async listSecrets(id: string): Promise<SecretView[]> {
      await existing(id);
      return (await clients.listSecrets(id)).map(serializeSecret);
    },

    /** Adds a secret; its value is in the answer and nowhere else, ever. */
    async addSecret(id: string, body: unknown, by: AuditContext): Promise<NewSecretView> {
      const client = await existing(id);
      if (!hasSecrets(client.type)) throw conflict(`${client.type} clients are public: they hold no secrets`);
      const input = parseOrThrow(secretInputSchema, body === undefined ? {} : body);
      const secret = newSecret(input);
      try {
        const stored = await clients.transaction(async (tx) => {
          const added = await tx.addSecret(id, secret.stored);
          await audit.record(tx.db, event(by, 'client.secret_created', client, { description: added.description, expiresAt: added.expiresAt?.toISOString() ?? null }, { kind: 'secret', id: added.id }));
          return added;
        });
        return { ...serializeSecret(stored), value: secret.value };
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
