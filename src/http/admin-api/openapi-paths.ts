import { z } from 'zod';
import { MAX_SECRETS_PER_CLIENT } from '../../repos/clients.ts';
import { querySchema as auditQuerySchema } from '../../services/audit-events.ts';
import { listQuerySchema as clientListQuerySchema } from '../../services/clients.ts';
import { listQuerySchema as userListQuerySchema } from '../../services/users.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../services/validation.ts';
import type { Json } from './openapi-schemas.ts';

/** The admin API document's paths and components.responses (see openapi.ts). */

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

export function paths(): Json {
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

export const RESPONSES: Record<string, Json> = {
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
