import { createRequire } from 'node:module';
import type Provider from 'oidc-provider';
import type { PrivateJwk } from '../../repos/keys.ts';
import { EngineInternalMovedError } from './internal-moved.ts';

/** The engine module that reads a provider's internals (its keystore and the JWKS it serves). */
const ENGINE_INTERNALS_MODULE = 'oidc-provider/lib/helpers/weak_cache.js';

interface EngineKey {
  kid?: string;
}

interface EngineKeystore extends Iterable<EngineKey> {
  add(key: object): void;
  clear(): void;
  selectForSign(options: { alg: string; use?: string; kid?: string }): EngineKey[];
}

interface EngineInternals {
  keystore?: unknown;
  jwks?: unknown;
}

export interface LiveKeystore {
  /**
   * From now on: the JWKS publishes `published` (public parts only), ID token hints and other JWTs
   * verify against them, and only the keys named in `signing` sign, the first of each algorithm in
   * `published` order.
   */
  replace(keys: { published: readonly PrivateJwk[]; signing: readonly string[] }): void;
}

function internalsOf(provider: Provider): EngineInternals | undefined {
  try {
    const read = (createRequire(import.meta.url)(ENGINE_INTERNALS_MODULE) as { default?: unknown }).default;
    if (typeof read !== 'function') return undefined;
    const internals = (read as (provider: Provider) => unknown)(provider);
    return internals !== null && typeof internals === 'object' ? (internals as EngineInternals) : undefined;
  } catch {
    return undefined;
  }
}

function isKeystore(value: unknown): value is EngineKeystore {
  const store = value as Partial<EngineKeystore> | null | undefined;
  return typeof store?.add === 'function' && typeof store.clear === 'function' && typeof store.selectForSign === 'function'
    && typeof store[Symbol.iterator] === 'function';
}

/** The public members of a signing key, as the engine itself publishes them. */
function publicJwk(key: PrivateJwk): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries({ kty: key.kty, use: key.use, kid: key.kid, alg: key.alg, crv: key.crv, e: key.e, n: key.n, x: key.x, y: key.y }).filter(([, v]) => v !== undefined),
  );
}

/**
 * oidc-provider takes its signing keys once, at construction (`jwks`), keeps them in a keystore and
 * serves their public parts from a list made then; neither is reachable through a public option. For
 * keys that rotate while Keyhold runs, both are replaced in place: the engine reads them from its
 * per-provider internals (lib/helpers/weak_cache.js) on every request (ID token signing and
 * `id_token_hint` verification in models/id_token.js, the jwks action).
 *
 * The engine signs with the first key of the asked algorithm in its keystore. The keystore also holds
 * keys that must not sign (pending ones, published ahead of their activation, and retiring ones, which
 * still verify): its `selectForSign` is narrowed to the active keys, and those are put first.
 */
export function installLiveKeystore(provider: Provider): LiveKeystore {
  const internals = internalsOf(provider);
  if (!internals) throw new EngineInternalMovedError(`per-provider internals (${ENGINE_INTERNALS_MODULE})`, 'keystore.ts');
  const keystore = internals.keystore;
  if (!isKeystore(keystore)) throw new EngineInternalMovedError('the provider keystore (add, clear, selectForSign, iteration)', 'keystore.ts');
  if (!Array.isArray((internals.jwks as { keys?: unknown } | undefined)?.keys)) throw new EngineInternalMovedError('the published JWKS (jwks.keys)', 'keystore.ts');

  // Until the first replace, the keys given at construction sign as the engine would choose them.
  let signing: ReadonlySet<string> | undefined;
  const select = keystore.selectForSign.bind(keystore);
  keystore.selectForSign = (options) => select(options).filter((key) => signing === undefined || (typeof key.kid === 'string' && signing.has(key.kid)));

  return {
    replace({ published, signing: kids }) {
      const active = new Set(kids);
      const ordered = [...published.filter((k) => active.has(k.kid)), ...published.filter((k) => !active.has(k.kid))];
      // One synchronous step: no request sees a keystore half replaced.
      keystore.clear();
      for (const key of ordered) keystore.add(key);
      signing = active;
      internals.jwks = { keys: ordered.map(publicJwk) };
    },
  };
}
