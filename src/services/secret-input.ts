import { z } from 'zod';
import { digest, generateClientSecret } from '../crypto/digest.ts';
import { LIMITS } from '../rules/client-rules.js';
import { rule, text } from './validation.ts';

/** What creating a secret takes (admin API, CLI and console alike), and the secret it makes. */

const DEFAULT_SECRET_LIFETIME_MS = 365 * 24 * 3600 * 1000;

const EXPIRY_FORMAT = 'must be an ISO-8601 date and time, such as 2030-01-31T00:00:00Z, or a date, such as 2030-01-31';
const isoDateTime = z.iso.datetime({ offset: true });
const isoDate = z.iso.date();

export const secretInputSchema = z
  .strictObject({
    description: text(0, LIMITS.secretDescription.max).optional(),
    // A date and time with its offset, or a date alone (midnight UTC).
    expiresAt: z
      .string({ error: EXPIRY_FORMAT })
      .superRefine((value, ctx) => {
        if (!isoDateTime.safeParse(value).success && !isoDate.safeParse(value).success) ctx.addIssue({ code: 'custom', ...rule('invalid-format', EXPIRY_FORMAT) });
        else if (!(new Date(value).getTime() > Date.now())) ctx.addIssue({ code: 'custom', ...rule('past-date', 'must be in the future') });
      })
      .optional(),
    neverExpires: z.boolean().optional(),
  })
  .superRefine((value, ctx) => {
    if (value.expiresAt !== undefined && value.neverExpires === true) {
      ctx.addIssue({ code: 'custom', path: ['neverExpires'], ...rule('conflicting-fields', 'give either expiresAt or neverExpires, not both') });
    }
  });
export type SecretInput = z.output<typeof secretInputSchema>;

/** A new secret value (`khs_` and 256 random bits) and its SHA-256 digest; only the digest is ever stored. */
export function newSecret(input: SecretInput | undefined) {
  const value = generateClientSecret();
  const expiresAt = input?.neverExpires
    ? null
    : input?.expiresAt
      ? new Date(input.expiresAt)
      : new Date(Date.now() + DEFAULT_SECRET_LIFETIME_MS);
  return { value, stored: { description: input?.description ?? '', digest: digest(value), expiresAt } };
}
