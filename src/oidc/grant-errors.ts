import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { digest } from '../crypto/digest.ts';
import type { Logger } from '../logger.ts';
import type { ProviderModelsRepo } from '../repos/provider-models.ts';

/**
 * What the token endpoint tells a developer about an `invalid_grant`. oidc-provider answers every one
 * with "grant request is invalid" and keeps the reason in `error_detail`; Keyhold's adapter throws its
 * own (a lost race to redeem a code or refresh token). This table turns each reason into a description,
 * and names the cause in the server log. The error code and status stay as they are.
 *
 * `answerAs` marks a cause deliberately answered as another: a client presenting another client's code
 * or refresh token learns nothing about it, not even that it exists (as at introspection). The log
 * still names the real cause.
 *
 * Descriptions name no value: never a code, token, verifier or secret.
 */
type Row = {
  cause: string;
  /** Only for this grant type; any when absent. */
  grantType?: 'authorization_code' | 'refresh_token';
  /** The engine's (or the adapter's) `error_detail` strings this row stands for. */
  details: readonly string[];
} & ({ description: string; answerAs?: never } | { answerAs: string; description?: never });

export const GRANT_ERRORS: readonly Row[] = [
  // Authorization code.
  {
    cause: 'code_redirect_uri_mismatch',
    grantType: 'authorization_code',
    details: ['authorization code redirect_uri mismatch'],
    description: 'redirect_uri does not match the one in the authorization request',
  },
  {
    cause: 'code_verifier_missing',
    grantType: 'authorization_code',
    details: ['code_verifier must be provided'],
    description: 'code_verifier is missing: the authorization request sent a code_challenge (PKCE)',
  },
  {
    // Only S256 is accepted at the authorization endpoint, so this means there was no challenge at all.
    cause: 'code_verifier_unexpected',
    grantType: 'authorization_code',
    details: ['unsupported code_challenge_method'],
    description: 'a code_verifier was sent, but the authorization request sent no code_challenge',
  },
  {
    cause: 'code_verifier_mismatch',
    grantType: 'authorization_code',
    details: ['code_verifier does not match code_challenge'],
    description: 'the code_verifier does not match the code_challenge of the authorization request',
  },
  {
    cause: 'code_used',
    grantType: 'authorization_code',
    details: ['authorization code already consumed', 'AuthorizationCode already consumed'],
    description: 'the authorization code was already used; as a precaution, the tokens issued with it are revoked',
  },
  {
    cause: 'code_expired',
    grantType: 'authorization_code',
    details: ['authorization code is expired'],
    description: 'the authorization code has expired: redeem it as soon as the redirect arrives, or start a new authorization request',
  },
  {
    cause: 'code_unknown',
    grantType: 'authorization_code',
    details: ['authorization code not found'],
    description: 'the authorization code is not one this client can redeem: it was never issued to it, or it was revoked or expired',
  },
  { cause: 'code_client_mismatch', grantType: 'authorization_code', details: ['client mismatch'], answerAs: 'code_unknown' },
  {
    cause: 'code_user_gone',
    grantType: 'authorization_code',
    details: ['authorization code invalid (referenced account not found)'],
    description: 'the user this authorization code was issued for is disabled or no longer exists',
  },
  {
    cause: 'code_dpop_missing',
    grantType: 'authorization_code',
    details: ['missing DPoP proof JWT'],
    description: 'a DPoP proof is required (the authorization request named a key with dpop_jkt); the code is now used up: start a new authorization request',
  },
  {
    cause: 'code_dpop_mismatch',
    grantType: 'authorization_code',
    details: ['DPoP proof key thumbprint does not match dpop_jkt'],
    description: 'the DPoP proof is not signed with the key named by dpop_jkt in the authorization request; the code is now used up: start a new authorization request',
  },

  // Refresh token.
  {
    cause: 'refresh_used',
    grantType: 'refresh_token',
    details: ['refresh token already used', 'RefreshToken already consumed'],
    description:
      'the refresh token was already used (each refresh returns a new one); as a precaution, the grant and every token issued under it are revoked',
  },
  {
    cause: 'refresh_expired',
    grantType: 'refresh_token',
    details: ['refresh token is expired'],
    description: 'the refresh token has expired: the user must sign in again',
  },
  {
    cause: 'refresh_unknown',
    grantType: 'refresh_token',
    details: ['refresh token not found'],
    description:
      'the refresh token is not one this client can use: it was never issued to it, or it was revoked (by the client, a replay, or the user being disabled or deleted) or expired',
  },
  { cause: 'refresh_client_mismatch', grantType: 'refresh_token', details: ['client mismatch'], answerAs: 'refresh_unknown' },
  {
    cause: 'refresh_user_gone',
    grantType: 'refresh_token',
    details: ['refresh token invalid (referenced account not found)'],
    description: 'the user this refresh token was issued for is disabled or no longer exists',
  },
  {
    cause: 'refresh_dpop_mismatch',
    grantType: 'refresh_token',
    details: ['failed jkt verification'],
    description: 'the refresh token is bound to a DPoP key: send a DPoP proof signed with that key',
  },

  // Either: the grant behind the code or refresh token (its expiry is the refresh token lifetime).
  {
    cause: 'grant_ended',
    details: ['grant not found', 'grant is expired'],
    description: 'the grant behind this authorization code or refresh token has ended (it expired or was revoked): the user must sign in again',
  },
];

/** The row for a cause; every `answerAs` names one (checked by the tests). */
function byCause(cause: string): Row | undefined {
  return GRANT_ERRORS.find((row) => row.cause === cause);
}

/** The row for an `error_detail` met under a grant type, if Keyhold knows it. */
export function grantErrorFor(grantType: string | undefined, detail: string | undefined): Row | undefined {
  if (detail === undefined) return undefined;
  return GRANT_ERRORS.find((row) => (row.grantType === undefined || row.grantType === grantType) && row.details.includes(detail));
}

/** The description a row is answered with (its own, or that of the cause it is answered as). */
export function descriptionOf(row: Row): string | undefined {
  return row.description ?? byCause(row.answerAs!)?.description;
}

/**
 * The adapter never hands the engine an expired row, so the engine says "not found" for an expired
 * code or refresh token. The sweep keeps such rows a while (EXPIRED_KEPT in repos/provider-models.ts):
 * until it removes one, the row tells them apart: expired, and this client's (another client's is
 * answered as unknown whatever its state).
 */
const EXPIRED_REFINEMENT: Record<string, { model: string; param: string; cause: string }> = {
  code_unknown: { model: 'AuthorizationCode', param: 'code', cause: 'code_expired' },
  refresh_unknown: { model: 'RefreshToken', param: 'refresh_token', cause: 'refresh_expired' },
};

const failures = new WeakMap<object, { detail?: string }>();

/**
 * Rewrites the `error_description` of the token endpoint's `invalid_grant` JSON answers, and logs the
 * cause at info. The engine emits `grant.error` with the error it rendered; the answer is rewritten
 * once it is made. Installed outside the refresh-token grace (refresh-grace.ts), so a replay answered
 * from the grace is neither rewritten nor logged.
 */
export function installGrantErrors(provider: Provider, deps: { logger: Logger; models: Pick<ProviderModelsRepo, 'isExpiredFor'> }): void {
  provider.on('grant.error', (ctx: object, err: { error?: string; error_detail?: unknown }) => {
    if (err.error === 'invalid_grant') failures.set(ctx, { detail: typeof err.error_detail === 'string' ? err.error_detail : undefined });
  });

  provider.use(async (koaCtx, next) => {
    await next();
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    const failure = failures.get(ctx);
    const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
    if (!failure || ctx.status !== 400 || body?.error !== 'invalid_grant') return;

    const params = ctx.oidc?.params ?? {};
    const grantType = typeof params['grant_type'] === 'string' ? params['grant_type'] : undefined;
    const clientId = ctx.oidc?.client?.clientId;
    let row = grantErrorFor(grantType, failure.detail);
    const refine = row ? EXPIRED_REFINEMENT[row.cause] : undefined;
    const presented = refine ? params[refine.param] : undefined;
    if (refine && clientId && typeof presented === 'string') {
      // Only worth a query on this failure path; a failing lookup leaves the answer as it was.
      const expired = await deps.models.isExpiredFor(refine.model, digest(presented), clientId).catch(() => false);
      if (expired) row = byCause(refine.cause);
    }

    const description = row ? descriptionOf(row) : undefined;
    if (description) ctx.body = { ...body, error_description: description };
    // The engine's detail is a fixed sentence of its own: it names no value either.
    deps.logger.info(
      { clientId, grantType, cause: row?.cause ?? 'unrecognised', ...(row ? {} : { detail: failure.detail }) },
      'token request refused: invalid_grant',
    );
  });
}
