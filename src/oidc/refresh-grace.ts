import { hkdfSync } from 'node:crypto';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { digest } from '../crypto/digest.ts';
import { ENCRYPTION_KEY_BYTES, Keyring } from '../crypto/keyring.ts';
import type { Pool } from '../db/pool.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { EngineInternalMovedError } from './engine/internal-moved.ts';

/**
 * The refresh-token reuse grace (REFRESH_TOKEN_REUSE_GRACE): for a few seconds after a refresh token
 * is rotated, presenting it once more (its answer was lost on a flaky network) gets the same answer
 * instead of revoking the grant. After the grace, or a second time, a replay revokes the grant as
 * always.
 *
 * The answer holds live tokens, so it is kept only sealed (AES-256-GCM) under a key derived from the
 * rotated refresh token itself, and filed under that token's digest: the database alone cannot open it.
 */
export interface RefreshGrace {
  seconds: number;
  /** Keeps the answer a rotation gave, for `seconds`. */
  keep(presented: string, answer: unknown): Promise<void>;
  /** The kept answer for this token, at most once, within the grace; undefined otherwise. */
  take(presented: string): Promise<unknown>;
  /** Forgets answers whose grace is over (the periodic sweep). */
  sweep(): Promise<number>;
}

function keyringFor(presented: string): Keyring {
  const key = Buffer.from(hkdfSync('sha256', presented, Buffer.alloc(0), 'keyhold refresh-token replay', ENCRYPTION_KEY_BYTES));
  return new Keyring([key]);
}

export function createRefreshGrace(pool: Pool, seconds: number): RefreshGrace {
  return {
    seconds,
    async keep(presented, answer) {
      const key = digest(presented);
      await pool.query(
        `INSERT INTO refresh_token_replays (token_digest, answer, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (token_digest) DO NOTHING`,
        [key, keyringFor(presented).seal(JSON.stringify(answer), key), seconds],
      );
    },
    async take(presented) {
      const key = digest(presented);
      const { rows } = await pool.query<{ answer: string }>(
        'DELETE FROM refresh_token_replays WHERE token_digest = $1 AND expires_at > now() RETURNING answer',
        [key],
      );
      const sealed = rows[0]?.answer;
      return sealed === undefined ? undefined : JSON.parse(keyringFor(presented).open(sealed, key)) as unknown;
    },
    async sweep() {
      const { rowCount } = await pool.query('DELETE FROM refresh_token_replays WHERE expires_at <= now()');
      return rowCount ?? 0;
    },
  };
}

/** Thrown inside the refresh grant to stop it before it revokes anything; the answer replaces its error. */
class ReplayWithinGrace extends errors.InvalidGrant {}

const replays = new WeakMap<object, unknown>();

function isRefreshRequest(ctx: KoaContextWithOIDC | undefined): ctx is KoaContextWithOIDC {
  return ctx?.oidc?.route === 'token' && ctx.oidc.params?.['grant_type'] === 'refresh_token';
}

/**
 * oidc-provider revokes the grant as soon as a consumed refresh token is presented, and has no option
 * to keep the answer of a rotation. The grant looks the token up through `RefreshToken.find`: for a
 * consumed token of the requesting client, Keyhold first looks for a kept answer, and if there is one,
 * the request ends with it before the engine sees the token is consumed.
 */
export function installRefreshGrace(provider: Provider, grace: RefreshGrace): void {
  const model = provider.RefreshToken as unknown as { find?: (value: string, options?: object) => Promise<unknown> };
  if (typeof model.find !== 'function') throw new EngineInternalMovedError('RefreshToken.find', 'refresh-grace.ts');
  const find = model.find.bind(provider.RefreshToken);

  model.find = async function findWithinGrace(value: string, options?: object) {
    const token = (await find(value, options)) as { consumed?: unknown; clientId?: string; isExpired?: boolean } | undefined;
    const ctx = Provider.ctx as KoaContextWithOIDC | undefined;
    if (!token?.consumed || token.isExpired || !isRefreshRequest(ctx) || ctx.oidc.params?.['refresh_token'] !== value) return token;
    if (token.clientId !== ctx.oidc.client?.clientId) return token;
    const answer = await grace.take(value);
    if (answer === undefined) return token;
    replays.set(ctx, answer);
    throw new ReplayWithinGrace('refresh token replayed within the grace period');
  };

  provider.use(async (koaCtx, next) => {
    if (koaCtx.method !== 'POST' || koaCtx.path !== '/token') return next();
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    await next();
    const replayed = replays.get(ctx);
    if (replayed !== undefined) {
      ctx.status = 200;
      ctx.set('cache-control', 'no-store');
      ctx.body = replayed;
      return;
    }
    const presented = ctx.oidc?.params?.['refresh_token'];
    if (ctx.status === 200 && isRefreshRequest(ctx) && typeof presented === 'string' && ctx.oidc.entities.RotatedRefreshToken) {
      // The rotation is done: with the database gone since, its answer is still sent, only not kept.
      await grace.keep(presented, ctx.body).catch((err: unknown) => {
        if (!isDatabaseUnavailable(err)) throw err;
      });
    }
  });
}
