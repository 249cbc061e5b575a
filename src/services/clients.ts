import { z } from 'zod';
import { conflict, notFound, preconditionFailed, type FieldProblem } from '../errors.ts';
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
import { CLIENT_ROLES } from '../roles.ts';
import { FIELDS_BY_TYPE, LIMITS, TYPES_WITH_SECRETS, URL_LISTS, urlListItemProblem, type UrlListField } from '../rules/client-rules.js';
import type { AuditEventType, AuditTarget, AuditTrail } from '../audit.ts';
import { changedFields, type AuditContext } from './audit-context.ts';
import { newSecret, secretInputSchema, type SecretInput } from './secret-input.ts';
import { describeIfMatch, ifMatches, type Precondition } from './preconditions.ts';
import {
  check,
  fieldProblems,
  invalid,
  isPlainObject,
  likeLiteral,
  noDuplicates,
  page,
  pageQuery,
  parseOrThrow,
  rule,
  searchQuery,
  text,
  type Page,
} from './validation.ts';

/**
 * Clients and their secrets, with every rule of the admin API (docs/clients.md); the rules of the fields
 * themselves are in rules/client-rules.js, which the admin console applies too.
 * The admin API routes and the CLI both go through here, so they accept, refuse and answer alike.
 */

/** A URL list's rules (URL_LISTS): its items' own, how many it holds, and no item twice. */
function uriList(field: UrlListField) {
  const { min, max } = URL_LISTS[field];
  return z
    .array(z.string().superRefine((value, ctx) => {
      // An empty list: the item's own rule alone (duplicates and the count are the list's, below).
      const problem = urlListItemProblem(field, value, []);
      if (problem) {
        const { code, message, ...more } = problem;
        ctx.addIssue({ code: 'custom', ...rule(code as FieldProblem['code'], message, more) });
      }
    }))
    .min(min, min === 1 ? 'must list at least one URL' : `must list at least ${min} URLs`)
    .max(max, `must list at most ${max} URLs`)
    .superRefine((values, ctx) => {
      values.forEach((value, i) => {
        const problem = urlListItemProblem(field, value, values.slice(0, i));
        if (problem?.code === 'duplicate') ctx.addIssue({ code: 'custom', path: [i], ...rule('duplicate', problem.message) });
      });
    });
}

const { min: MIN_LIFETIME, max: MAX_LIFETIME } = LIMITS.accessTokenLifetime;
const lifetimeRule = `must be a whole number of seconds from ${MIN_LIFETIME} to ${MAX_LIFETIME}`;
const fields = {
  name: text(1, LIMITS.name.max),
  enabled: z.boolean(),
  redirectUris: uriList('redirectUris'),
  postLogoutRedirectUris: uriList('postLogoutRedirectUris'),
  allowRefreshToken: z.boolean(),
  accessTokenLifetime: z
    .int({ error: lifetimeRule })
    .refine((n) => n >= MIN_LIFETIME && n <= MAX_LIFETIME, rule('out-of-range', lifetimeRule, { minimum: MIN_LIFETIME, maximum: MAX_LIFETIME })),
  allowedCorsOrigins: uriList('allowedCorsOrigins'),
  roles: z
    .array(z.enum(CLIENT_ROLES, { error: `must be one of ${CLIENT_ROLES.map((r) => `"${r}"`).join(', ')}` }))
    .superRefine(noDuplicates()),
};
type FieldName = keyof typeof fields;

export { TYPES_WITH_SECRETS };
const hasSecrets = (type: ClientType) => TYPES_WITH_SECRETS.includes(type);
const SERVER_SET = ['id', 'createdAt', 'updatedAt', 'secrets', 'version'];


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
    if (SERVER_SET.includes(key)) problems.push({ path: key, code: 'read-only', message: 'is set by the server and cannot be written' });
    else if (key === 'type' && mode === 'update') problems.push({ path: key, code: 'fixed', message: 'is fixed at creation' });
    else if (key === 'secret' && mode === 'create' && !hasSecrets(type)) problems.push({ path: key, code: 'not-applicable', message: `${type} clients are public: they hold no secrets` });
    else if (Object.hasOwn(fields, key) && !FIELDS_BY_TYPE[type].includes(key as FieldName)) problems.push({ path: key, code: 'not-applicable', message: `does not apply to ${type} clients` });
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

  async function view(id: string): Promise<ClientView> {
    const client = await existing(id);
    return serializeClient(client, hasSecrets(client.type) ? await clients.listSecrets(id) : []);
  }

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
      const { problems, rest } = misplacedKeys(body, clientType, 'create');
      const parsed = check(schemaFor(clientType, 'create'), rest);
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
      const { problems, rest } = misplacedKeys(body, client.type, 'update');
      const parsed = check(schemaFor(client.type, 'update'), rest);
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
        if (before && !ifMatches(precondition, before.version)) return undefined;
        const after = before && (await tx.update(id, changes));
        if (!before || !after) throw notFoundClient(id);
        await audit.record(tx.db, event(by, 'client.updated', after, changedFields(auditView(before), auditView(after))));
        return after;
      });
      if (!updated) throw await stale(id, precondition);
      return serializeClient(updated, hasSecrets(updated.type) ? await clients.listSecrets(id) : []);
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
