import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import Provider, { type ClientMetadata } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import type { BareClient } from './protocol.ts';

/** Room for every code and token one scenario mints ahead, plus what the requests themselves store. */
const MEMORY_ENTRIES = 2_000_000;

/**
 * The baseline: oidc-provider 9.13.3 as its README sets it up (plaintext client secrets in static
 * configuration, opaque tokens, memory storage), with the same protocol settings as Keyhold's
 * src/oidc/provider.ts where they change the work a request does: features, scopes and claims,
 * response types, lifetimes, refresh-token rotation, RS256 + ES256 signing keys.
 *
 * Storage is oidc-provider's own MemoryAdapter, but over a bigger LRU than its default one of 1,000
 * entries: that one would evict the codes and refresh tokens minted before a scenario long before
 * they are used. Same class, same code per operation; only the capacity differs.
 */
export function createBareProvider(issuer: string, clients: BareClient[]): Provider {
  const store = new LRU({ maxSize: MEMORY_ENTRIES });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

  const metadata = (c: BareClient): ClientMetadata =>
    c.kind === 'client-credentials'
      ? {
          client_id: c.clientId,
          client_secret: c.secret,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          scope: 'openid',
        }
      : {
          client_id: c.clientId,
          client_secret: c.secret,
          application_type: 'web',
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['authorization_code', 'implicit', 'refresh_token'],
          response_types: ['code id_token', 'code'],
          redirect_uris: c.redirectUris,
        };

  const provider = new Provider(issuer, {
    adapter: (name: string) => new MemoryAdapter(name, store),
    clients: clients.map(metadata),
    // Accounts live in memory too: any id is an account, with the claims Keyhold returns for a user.
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({
        sub: id,
        preferred_username: `user-${id}`,
        name: 'Bench User',
        email: `${id}@example.com`,
        email_verified: false,
        updated_at: 1_700_000_000,
        roles: [],
      }),
    }),
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'updated_at'],
      email: ['email', 'email_verified'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    responseTypes: ['code id_token', 'code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
    ttl: {
      AccessToken: 3600,
      ClientCredentials: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 1_209_600,
      Grant: 1_209_600,
      Session: 14 * 24 * 3600,
    },
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: true,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: {
      keys: [
        { ...rsa, kid: randomUUID(), alg: 'RS256', use: 'sig' },
        { ...ec, kid: randomUUID(), alg: 'ES256', use: 'sig' },
      ] as never,
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
      authorizationSigningAlgValues: ['RS256', 'ES256'],
    },
    conformIdTokenClaims: true,
  });
  return provider;
}
