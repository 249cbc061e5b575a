import { z } from 'zod';
import { AUDIT_EVENT_TYPES } from '../../audit.ts';
import { FIELD_PROBLEM_CODES } from '../../errors.ts';
import { CLIENT_TYPES, MAX_SECRETS_PER_CLIENT, type ClientType } from '../../repos/clients.ts';
import { querySchema as auditQuerySchema } from '../../services/audit-events.ts';
import { CLIENT_ROLES, USER_ROLES } from '../../roles.ts';
import { listQuerySchema as clientListQuerySchema, schemaFor, TYPES_WITH_SECRETS } from '../../services/clients.ts';
import { secretInputSchema } from '../../services/secret-input.ts';
import { createSchema as userCreateSchema, listQuerySchema as userListQuerySchema, updateSchema as userUpdateSchema } from '../../services/users.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../services/validation.ts';

/**
 * The admin API's OpenAPI 3.1 document, generated: request bodies and query strings from the zod
 * schemas the services validate with, answers from the zod schemas below (which mirror the services'
 * views). Served at GET /api/v1/openapi.json; docs/openapi.json is a copy (`npm run openapi`).
 * Rules zod checks in code (refinements: URL rules, dates in the future, cursors) are not in the
 * schemas: the API answers 400 with every broken rule in `errors`.
 */

const dateTime = z.iso.datetime({ offset: true });

// ---- Answers -------------------------------------------------------------------------------------

const SecretView = z
  .strictObject({
    id: z.string(),
    description: z.string(),
    expiresAt: dateTime.nullable().meta({ description: 'null: never expires' }),
    createdAt: dateTime,
    lastUsedAt: dateTime.nullable(),
  })
  .meta({ id: 'SecretView', description: 'A client secret, without its value (which is shown once, when it is created).' });

const NewSecretView = z
  .strictObject({ ...SecretView.shape, value: z.string().meta({ description: 'The secret itself: shown this once, never stored.' }) })
  .meta({ id: 'NewSecretView', description: 'A secret just created, with its value.' });

const version = z.int().meta({ description: 'bumped by every change (for a client, to its secrets too); the ETag, and what If-Match names' });

/** What each client field looks like in an answer (its rules apply to requests). */
const VIEW_FIELDS: Record<string, z.ZodType> = {
  name: z.string(),
  enabled: z.boolean(),
  redirectUris: z.array(z.string()),
  postLogoutRedirectUris: z.array(z.string()),
  allowRefreshToken: z.boolean(),
  accessTokenLifetime: z.int().meta({ description: 'seconds' }),
  allowedCorsOrigins: z.array(z.string()),
  roles: z.array(z.enum(CLIENT_ROLES)),
};

/** A client of one type as the API answers it: the fields its type has (the same the service accepts), and no other. */
function clientViewOf(type: ClientType) {
  const shape: Record<string, z.ZodType> = { id: z.string(), type: z.literal(type) };
  for (const name of Object.keys(schemaFor(type, 'update').shape)) {
    const field = VIEW_FIELDS[name];
    if (!field) throw new Error(`no answer schema for the client field ${name}`);
    shape[name] = field;
  }
  if (TYPES_WITH_SECRETS.includes(type)) shape.secrets = z.array(SecretView);
  shape.createdAt = dateTime;
  shape.updatedAt = dateTime;
  shape.version = version;
  return z.strictObject(shape);
}

const ClientView = z
  .union(CLIENT_TYPES.map(clientViewOf))
  .meta({ id: 'ClientView', description: 'A client: the fields of its type; secrets (without values) for types that hold them.' });

const ClientCreated = z
  .strictObject({ client: ClientView, secret: NewSecretView.optional() })
  .meta({ id: 'ClientCreated', description: 'A new client; hybrid and client-credentials clients come with a first secret, whose value is shown this once.' });

const UserView = z
  .strictObject({
    id: z.uuid(),
    username: z.string(),
    email: z.string().nullable(),
    name: z.string().nullable(),
    roles: z.array(z.enum(USER_ROLES)),
    disabled: z.boolean(),
    lockedUntil: dateTime.nullable().meta({ description: 'while a sign-in lockout is in force, when it ends; else null' }),
    createdAt: dateTime,
    version,
  })
  .meta({ id: 'UserView', description: 'A user; the password never leaves the server.' });

const AuditEvent = z
  .strictObject({
    id: z.string(),
    at: dateTime,
    type: z.enum(AUDIT_EVENT_TYPES),
    actor: z.union([
      z.strictObject({ kind: z.literal('user'), id: z.string(), username: z.string().optional() }),
      z.strictObject({ kind: z.literal('client'), id: z.string() }),
      z.strictObject({ kind: z.enum(['cli', 'system', 'anonymous']) }),
    ]),
    target: z.strictObject({ kind: z.enum(['client', 'user', 'key', 'secret']), id: z.string(), name: z.string().optional() }).nullable(),
    clientId: z.string().nullable(),
    userId: z.string().nullable(),
    address: z.string().nullable(),
    outcome: z.enum(['success', 'failure']),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEvent', description: 'One event of the audit trail (docs/audit.md).' });

const pageOf = (id: string, item: z.ZodType, what: string) =>
  z
    .strictObject({
      items: z.array(item),
      nextCursor: z.string().nullable().meta({ description: 'pass it as `cursor` for the next page; null on the last page' }),
    })
    .meta({ id, description: `One page of ${what}.` });

const FieldProblem = z
  .strictObject({
    path: z.string().meta({ description: 'a JSON path such as `redirectUris.0`; empty for the body as a whole' }),
    code: z.enum(FIELD_PROBLEM_CODES).meta({ description: 'the rule broken, stable (docs/admin-api.md lists them)' }),
    message: z.string().meta({ description: 'for people; may change' }),
    limit: z.int().optional().meta({ description: 'with too-long, too-short, too-many, too-few: the limit the rule names' }),
    minimum: z.int().optional().meta({ description: 'with out-of-range: the least value accepted' }),
    maximum: z.int().optional().meta({ description: 'with out-of-range: the greatest value accepted' }),
    allowed: z.array(z.string()).optional().meta({ description: 'with invalid-value: the values accepted' }),
    canonical: z.string().optional().meta({ description: 'with not-canonical: the value written canonically' }),
  })
  .meta({ id: 'FieldProblem' });

const Problem = z
  .strictObject({
    type: z.string().meta({ description: 'https://keyhold.dev/problems/<code>, where code is stable (validation-failed, malformed-json, unauthorized, forbidden, not-found, conflict, precondition-failed, unsupported-media-type, payload-too-large, database-unavailable), or about:blank' }),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    errors: z.array(FieldProblem).optional().meta({ description: 'with validation-failed: every field and the rule it breaks' }),
    current: z.union([ClientView, UserView]).optional().meta({ description: 'with precondition-failed: the resource as it is now, as GET answers it' }),
  })
  .meta({ id: 'Problem', description: 'An RFC 9457 problem.' });

// ---- Requests ------------------------------------------------------------------------------------

const ClientCreate = z
  .union(CLIENT_TYPES.map((type) => schemaFor(type, 'create')))
  .meta({ id: 'ClientCreate', description: 'A new client: `type` decides which fields apply (docs/clients.md).' });
const ClientUpdate = z
  .union(CLIENT_TYPES.map((type) => schemaFor(type, 'update')))
  .meta({ id: 'ClientUpdate', description: 'The fields to change, of those the client\'s type has; absent fields stay.' });
const SecretInput = secretInputSchema.meta({
  id: 'SecretInput',
  description: 'expiresAt: an ISO-8601 date and time with its offset, or a date (midnight UTC), in the future; by default a secret expires after 365 days. neverExpires: true for a secret that never expires (not with expiresAt).',
});
const UserCreate = userCreateSchema.meta({ id: 'UserCreate', description: 'A new user; usernames are unique whatever their case.' });
const UserUpdate = userUpdateSchema.meta({ id: 'UserUpdate', description: 'The fields to change; absent fields stay. Disabling a user ends their sessions and tokens.' });

const registry = z.registry<{ id: string }>();
for (const schema of [
  ClientCreate, ClientUpdate, SecretInput, UserCreate, UserUpdate,
  ClientView, ClientCreated, SecretView, NewSecretView, UserView, AuditEvent,
  pageOf('ClientPage', ClientView, 'clients, oldest first'),
  pageOf('UserPage', UserView, 'users, oldest first'),
  pageOf('AuditEventPage', AuditEvent, 'audit events, newest first'),
  FieldProblem, Problem,
]) {
  registry.add(schema, schema.meta() as { id: string });
}

type Json = Record<string, unknown>;

function componentSchemas(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Json> };
  const out: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, $id: _id, id: _meta, ...rest } = schema;
    out[id] = rest;
  }
  return out;
}

// ---- Operations ----------------------------------------------------------------------------------

const PARAMETER_DOCS: Record<string, string> = {
  limit: `how many items a page holds: 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})`,
  cursor: 'the nextCursor of the previous page',
  type: 'only items of this type',
  clientId: 'only events about this client',
  userId: 'only events about this user',
  since: 'only events at or after this ISO-8601 date and time (with its offset)',
  until: 'only events before this ISO-8601 date and time (with its offset)',
  q: 'search, 1 to 100 characters, matched literally: clients whose name holds it (whatever its case) or whose id starts with it; users whose username, email or name holds it (whatever its case)',
};

/** The query parameters of a list, from the zod schema its service parses the query string with. */
function queryParameters(schema: z.ZodType): Json[] {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as { properties: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    ...(PARAMETER_DOCS[name] ? { description: PARAMETER_DOCS[name] } : {}),
    schema: property,
  }));
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ 'application/json': { schema: ref(id) } });
const pathParameter = (name: string, description: string, format?: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string', ...(format ? { format } : {}) },
});
const clientId = pathParameter('id', 'the client\'s id');
const userId = pathParameter('id', 'the user\'s id (a UUID)');
const secretId = pathParameter('secretId', 'the secret\'s id');

/** Statuses every operation may answer with. */
const COMMON = ['401', '403', '503'];

function answer(description: string, schema?: string, headers?: Json) {
  return { description, ...(headers ? { headers } : {}), ...(schema ? { content: json(schema) } : {}) };
}

function operation(
  operationId: string,
  summary: string,
  { parameters, body, bodyRequired = true, ok, errors = [] }: { parameters?: Json[]; body?: string; bodyRequired?: boolean; ok: Record<string, Json>; errors?: string[] },
): Json {
  const statuses = [...new Set([...errors, ...(body ? ['400', '413', '415'] : []), ...COMMON])].sort();
  return {
    operationId,
    summary,
    tags: [operationId.includes('Secret') ? 'secrets' : operationId.includes('Client') ? 'clients' : operationId.includes('Audit') ? 'audit' : 'users'],
    ...(parameters ? { parameters } : {}),
    ...(body ? { requestBody: { required: bodyRequired, content: json(body) } } : {}),
    responses: { ...ok, ...Object.fromEntries(statuses.map((s) => [s, { $ref: `#/components/responses/${s}` }])) },
  };
}

const location = { Location: { description: 'the new resource', schema: { type: 'string' } } };
const etag = { ETag: { description: 'the resource\'s version as a strong entity tag, e.g. "3": send it back as If-Match', schema: { type: 'string' } } };
const ifMatch = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description: 'change only the version named: `*`, or entity tags such as "3" (strong comparison: W/ tags never match); else 412 with the resource as it is now',
  schema: { type: 'string' },
};

function paths(): Json {
  return {
    '/clients': {
      get: operation('listClients', 'List clients, oldest first', {
        parameters: queryParameters(clientListQuerySchema),
        ok: { '200': answer('A page of clients', 'ClientPage') },
        errors: ['400'],
      }),
      post: operation('createClient', 'Create a client', {
        body: 'ClientCreate',
        ok: { '201': answer('The client, and its first secret\'s value when its type holds secrets', 'ClientCreated', { ...location, ...etag }) },
      }),
    },
    '/clients/{id}': {
      parameters: [clientId],
      get: operation('getClient', 'Read a client', { ok: { '200': answer('The client', 'ClientView', etag) }, errors: ['404'] }),
      patch: operation('updateClient', 'Change a client; with If-Match, only at the version named', {
        parameters: [ifMatch],
        body: 'ClientUpdate',
        ok: { '200': answer('The client as changed', 'ClientView', etag) },
        errors: ['404', '412'],
      }),
      delete: operation('deleteClient', 'Delete a client, with every token, code and grant issued to it; with If-Match, only at the version named', {
        parameters: [ifMatch],
        ok: { '204': answer('Deleted') },
        errors: ['404', '412'],
      }),
    },
    '/clients/{id}/secrets': {
      parameters: [clientId],
      get: operation('listClientSecrets', 'List a client\'s secrets (without their values)', {
        ok: { '200': { description: 'The secrets', content: { 'application/json': { schema: { type: 'array', items: ref('SecretView') } } } } },
        errors: ['404'],
      }),
      post: operation('createClientSecret', `Add a secret to a client (at most ${MAX_SECRETS_PER_CLIENT}); 409 for a client type that holds none`, {
        body: 'SecretInput',
        bodyRequired: false,
        ok: { '201': answer('The secret, with its value: shown this once', 'NewSecretView', { ETag: { description: 'the client\'s new version (adding a secret changes it)', schema: { type: 'string' } } }) },
        errors: ['404', '409'],
      }),
    },
    '/clients/{id}/secrets/{secretId}': {
      parameters: [clientId, secretId],
      delete: operation('deleteClientSecret', 'Delete a secret: it fails at the token endpoint from the next request on', {
        ok: { '204': answer('Deleted') },
        errors: ['404'],
      }),
    },
    '/users': {
      get: operation('listUsers', 'List users, oldest first', {
        parameters: queryParameters(userListQuerySchema),
        ok: { '200': answer('A page of users', 'UserPage') },
        errors: ['400'],
      }),
      post: operation('createUser', 'Create a user; 409 when the username is taken (whatever its case)', {
        body: 'UserCreate',
        ok: { '201': answer('The user', 'UserView', { ...location, ...etag }) },
        errors: ['409'],
      }),
    },
    '/users/{id}': {
      parameters: [userId],
      get: operation('getUser', 'Read a user', { ok: { '200': answer('The user', 'UserView', etag) }, errors: ['404'] }),
      patch: operation('updateUser', 'Change a user; 409 when it would leave no enabled administrator; with If-Match, only at the version named', {
        parameters: [ifMatch],
        body: 'UserUpdate',
        ok: { '200': answer('The user as changed', 'UserView', etag) },
        errors: ['404', '409', '412'],
      }),
      delete: operation('deleteUser', 'Delete a user, with their sessions, grants and tokens; 409 for the last enabled administrator; with If-Match, only at the version named', {
        parameters: [ifMatch],
        ok: { '204': answer('Deleted') },
        errors: ['404', '409', '412'],
      }),
    },
    '/users/{id}/unlock': {
      parameters: [userId],
      post: operation('unlockUser', 'End a user\'s sign-in lockout and reset their failure count', {
        ok: { '200': answer('The user', 'UserView') },
        errors: ['404'],
      }),
    },
    '/audit-events': {
      get: operation('listAuditEvents', 'List audit events, newest first', {
        parameters: queryParameters(auditQuerySchema),
        ok: { '200': answer('A page of events', 'AuditEventPage') },
        errors: ['400'],
      }),
    },
  };
}

const problem = (description: string, headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

const RESPONSES: Record<string, Json> = {
  '400': problem('The request is not valid: validation-failed (with `errors`, every field and the rule it breaks) or malformed-json'),
  '401': problem('No access token, or one that is unknown, expired or revoked, or whose client or user is gone or disabled', {
    'WWW-Authenticate': { description: 'the RFC 6750 challenge', schema: { type: 'string' } },
  }),
  '403': problem('The token is valid but not an administrator\'s, or not issued with the admin scope', {
    'WWW-Authenticate': { description: 'the RFC 6750 challenge (insufficient_scope)', schema: { type: 'string' } },
  }),
  '404': problem('No such resource'),
  '409': problem('The change conflicts with the current state'),
  '412': problem('If-Match names no version the resource is at: precondition-failed, with `current`, the resource as it is now; nothing changed', {
    ETag: { description: 'the resource\'s current version', schema: { type: 'string' } },
  }),
  '413': problem('The body is larger than 1 MiB'),
  '415': problem('The body is not sent as application/json'),
  '503': problem('The database cannot be reached right now', {
    'Retry-After': { description: 'seconds', schema: { type: 'integer' } },
  }),
};

const DESCRIPTION = `Manage Keyhold's clients, their secrets and users, and read the audit trail.

Authenticate with a bearer access token issued by this Keyhold: a client-credentials client holding the admin role asks the token endpoint for the \`admin\` scope, or an administrator signs in to the admin console. Bodies are JSON only (application/json); every error is RFC 9457 problem+json. Lists are pages: pass \`nextCursor\` as \`cursor\` until it is null. Clients and users come with their version as an ETag; send it back as If-Match to change or delete them only if no one else did meanwhile (412 otherwise). See docs/admin-api.md.`;

/** The OpenAPI 3.1 document of the admin API; the same on every instance (no host in it). */
export function openApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: { title: 'Keyhold admin API', version: '1', description: DESCRIPTION },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    tags: [
      { name: 'clients', description: 'OpenID Connect and OAuth 2.0 clients' },
      { name: 'secrets', description: 'Client secrets' },
      { name: 'users', description: 'Users' },
      { name: 'audit', description: 'The audit trail' },
      { name: 'meta', description: 'This document' },
    ],
    paths: {
      '/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          summary: 'This document (no token needed)',
          tags: ['meta'],
          security: [],
          responses: { '200': { description: 'The OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
      ...paths(),
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An access token with the admin scope, of an administrator (console) or an admin client (client credentials)' },
      },
      schemas: componentSchemas(),
      responses: RESPONSES,
    },
  };
}

/** The document as served and as committed in docs/openapi.json (with a final newline). */
export function openApiText(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}

export const OPENAPI_PATH = '/openapi.json';
