import { z } from 'zod';
import type { FieldProblem } from '../errors.ts';
import type { ClientType } from '../repos/clients.ts';
import { CLIENT_ROLES } from '../roles.ts';
import { FIELDS_BY_TYPE, LIMITS, TYPES_WITH_SECRETS, URL_LISTS, urlListItemProblem, type UrlListField } from '../rules/client-rules.js';
import { secretInputSchema } from './secret-input.ts';
import { check, fieldProblems, invalid, noDuplicates, rule, text } from './validation.ts';

/**
 * What the admin API accepts as a client's fields, per type and for creation or change: the rules of
 * each field (rules/client-rules.js, which the admin console applies too) as zod schemas, and the keys
 * that are known but misplaced.
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
export type ClientField = keyof typeof fields;

export const hasSecrets = (type: ClientType) => TYPES_WITH_SECRETS.includes(type);
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
    else if (Object.hasOwn(fields, key) && !FIELDS_BY_TYPE[type].includes(key as ClientField)) problems.push({ path: key, code: 'not-applicable', message: `does not apply to ${type} clients` });
    else rest[key] = value;
  }
  return { problems, rest };
}

/** The fields of `body` for a client of `type`, every rule applied (misplaced keys and field rules reported together), or a 400. */
export function clientInput(body: Record<string, unknown>, type: ClientType, mode: 'create' | 'update'): Record<string, unknown> {
  const { problems, rest } = misplacedKeys(body, type, mode);
  const parsed = check(schemaFor(type, mode), rest);
  if (!parsed.success) problems.push(...fieldProblems(parsed.error));
  if (problems.length) throw invalid(problems);
  return parsed.data as Record<string, unknown>;
}
