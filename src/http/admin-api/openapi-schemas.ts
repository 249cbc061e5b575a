import { z } from 'zod';
import { AUDIT_EVENT_TYPES } from '../../audit.ts';
import { FIELD_PROBLEM_CODES } from '../../errors.ts';
import { CLIENT_TYPES, type ClientType } from '../../repos/clients.ts';
import { CLIENT_ROLES, USER_ROLES } from '../../roles.ts';
import { TYPES_WITH_SECRETS } from '../../rules/client-rules.js';
import { schemaFor } from '../../services/client-input.ts';
import { secretInputSchema } from '../../services/secret-input.ts';
import { createSchema as userCreateSchema, updateSchema as userUpdateSchema } from '../../services/users.ts';

/** The admin API document's components.schemas (see openapi.ts): its answers and requests. */

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

export type Json = Record<string, unknown>;

export function componentSchemas(): Record<string, Json> {
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
