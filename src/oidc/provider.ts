import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import type { Logger } from '../logger.ts';
import type { KeyMaterial } from '../repos/keys.ts';
import type { ProviderModelsRepo } from '../repos/provider-models.ts';
import type { UsersRepo } from '../repos/users.ts';
import { ADMIN_ROLE, ADMIN_SCOPE, RESOURCE_SERVER_ROLE, SCOPES } from '../roles.ts';
import { createFindAccount } from './accounts.ts';
import { createAdapterFactory } from './adapter.ts';
import type { ClientCache } from './client-cache.ts';
import { EXTRA_CLIENT_METADATA } from './client-metadata.ts';
import type { SecretVerifier } from './client-secrets.ts';
import { installClientSecretCheck } from './engine/client-secret-check.ts';
import { installHybridLocalhost } from './engine/hybrid-localhost.ts';
import { installOfflineAccessConsent } from './engine/offline-access-consent.ts';
import { installGrantErrors } from './grant-errors.ts';
import { ID_TOKEN_TTL, SESSION_TTL } from './lifetimes.ts';
import { installRefreshGrace, type RefreshGrace } from './refresh-grace.ts';
import { recallUser } from './request-scope.ts';
import type { createTokenThrottle } from './throttle.ts';
import { LOCALES } from '../pages/i18n.ts';
import { providerLocale, type Pages } from '../pages/views.ts';
import { createPageSources } from './page-sources.ts';
import { installPagePolish } from './pages.ts';

export interface ProviderDeps {
  issuer: string;
  keys: KeyMaterial;
  models: ProviderModelsRepo;
  clients: ClientCache;
  users: UsersRepo;
  secrets: SecretVerifier;
  refreshTokenLifetime: number;
  /** Counts failed token requests and client authentications; answers 429 beyond the limits. */
  throttle: ReturnType<typeof createTokenThrottle>;
  /** Lets a just-rotated refresh token be presented once more (off when undefined). */
  refreshGrace?: RefreshGrace;
  trustProxy: boolean;
  logger: Logger;
  /** The end users' pages: language, brand, layout. */
  pages: Pages;
  /** Outermost provider middleware: names endpoints and counts token requests for the metrics (metrics.ts). */
  metricsMiddleware?: (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;
}

/** Where Fastify serves the sign-in pages (outside the provider's mount path). */
const INTERACTION_PATH = '/interaction';

/**
 * The admin console's own client: a public authorization-code client with PKCE, configured statically
 * (it is part of Keyhold, not an administrator's app, so the admin API neither lists nor deletes it).
 */
export const CONSOLE_CLIENT_ID = 'keyhold-admin-console';
export const CONSOLE_CALLBACK_PATH = '/admin/callback';
function mayIntrospectAny(client: { [key: string]: unknown }): boolean {
  const roles = client['keyhold_roles'];
  return client['keyhold_type'] === 'client-credentials' && Array.isArray(roles) && roles.includes(RESOURCE_SERVER_ROLE);
}

const DEFAULT_ACCESS_TOKEN_LIFETIME = 3600;

type ClientLike = { [key: string]: unknown } | undefined;

function accessTokenLifetime(client: ClientLike): number {
  const value = client?.['keyhold_access_token_lifetime'];
  return typeof value === 'number' ? value : DEFAULT_ACCESS_TOKEN_LIFETIME;
}

export function createProvider(deps: ProviderDeps): Provider {
  /** A token is worth something only while its client, and its user if it has one, still exist and are enabled. */
  async function tokenStillBacked(ctx: KoaContextWithOIDC, token: { clientId?: string; accountId?: string; kind: string }): Promise<boolean> {
    const client = token.clientId ? await ctx.oidc.provider.Client.find(token.clientId) : undefined;
    if (!client) return false;
    if (token.kind === 'RefreshToken' && !client.grantTypeAllowed('refresh_token')) return false;
    if (token.accountId) {
      const user = recallUser(token.accountId) ?? (await deps.users.findById(token.accountId));
      if (!user || user.disabled) return false;
    }
    return true;
  }

  const issuerOrigin = new URL(deps.issuer).origin;
  const sources = createPageSources({
    pages: deps.pages,
    users: deps.users,
    issuer: deps.issuer,
    logger: deps.logger,
    interactionUrl: (uid) => `${issuerOrigin}${INTERACTION_PATH}/${encodeURIComponent(uid)}`,
  });
  const policy = interactionPolicy.base();
  // Clients are the administrator's own applications: no consent screen. Grants are created (and
  // widened to what is asked) by loadExistingGrant below. `consent` stays a recognised prompt value
  // so that `prompt=consent` (and so offline_access) is accepted without showing anything.
  policy.get('consent')!.checks.clear();

  const configuration: Configuration = {
    // Database round trips per request in the steady state (client cached; counted by
    // test/oidc/round-trips.test.ts). A token or code is read with its grant and its user in one
    // statement (request-scope.ts), and under load statements are shared between requests (db/batcher.ts).
    // - client_credentials: 1, storing the token (conditional on the cached client's version).
    // - introspection and userinfo: 1, reading the token (one lookup answers for every kind of token).
    // - code exchange: 4: find the code (with grant and user), consume it (atomic single use), store
    //   the access token, store the refresh token (only with offline_access).
    // - refresh: 4: find the refresh token (with grant and user), consume it (rotation), store the new
    //   one, store the access token; with REFRESH_TOKEN_REUSE_GRACE, a fifth keeps the answer (refresh-grace.ts).
    // Failed requests cost one more each, counting them (throttle.ts); successful ones nothing. An
    // unknown code or refresh token costs one more again, telling an expired one apart (grant-errors.ts).
    adapter: createAdapterFactory({ models: deps.models, clients: deps.clients }),
    clients: [
      {
        client_id: CONSOLE_CLIENT_ID,
        client_name: 'Keyhold admin console',
        application_type: 'web',
        token_endpoint_auth_method: 'none',
        redirect_uris: [`${new URL(deps.issuer).origin}${CONSOLE_CALLBACK_PATH}`],
        post_logout_redirect_uris: [`${new URL(deps.issuer).origin}/admin/`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        scope: `openid profile email ${ADMIN_SCOPE}`,
        keyhold_type: 'authorization-code',
        keyhold_access_token_lifetime: 3600,
      },
    ],
    findAccount: createFindAccount(deps.users),
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'updated_at'],
      email: ['email', 'email_verified'],
    },
    scopes: SCOPES,
    responseTypes: ['code id_token', 'code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    extraClientMetadata: { properties: [...EXTRA_CLIENT_METADATA] },
    pkce: {
      // Public clients always; native apps (loopback or private-use redirect URLs) too, secret or not.
      required: (_ctx, client) => client.clientAuthMethod === 'none' || client.applicationType === 'native',
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A client learns about its own tokens only; a client-credentials client holding the
        // resource-server role (an API checking the tokens presented to it) about any. Everyone else is
        // told `active: false`, exactly as for an unknown token. A token whose client or user is gone or
        // disabled is reported inactive, as it would fail anywhere else.
        allowedPolicy: async (ctx, client, token) => {
          if (token.clientId !== client.clientId && !mayIntrospectAny(client as unknown as { [key: string]: unknown })) return false;
          return tokenStillBacked(ctx, token);
        },
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      userinfo: { enabled: true },
      // Keyhold has no resource servers. Left on (the engine's default), a `resource` at the token
      // endpoint is refused only after the code or refresh token was used up: the client loses it, and
      // its retry revokes the grant as a replay.
      resourceIndicators: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: sources.logoutSource,
        postLogoutSuccessSource: sources.postLogoutSuccessSource,
      },
    },
    ttl: {
      AccessToken: (_ctx, _token, client) => accessTokenLifetime(client as unknown as ClientLike),
      ClientCredentials: (_ctx, _token, client) => accessTokenLifetime(client as unknown as ClientLike),
      AuthorizationCode: 60,
      IdToken: ID_TOKEN_TTL,
      Interaction: 3600,
      RefreshToken: () => deps.refreshTokenLifetime,
      Grant: () => deps.refreshTokenLifetime,
      Session: SESSION_TTL,
    },
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: true,
    cookies: {
      keys: deps.keys.cookie,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    jwks: { keys: deps.keys.signing as never },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
      authorizationSigningAlgValues: ['RS256', 'ES256'],
    },
    interactions: {
      policy,
      url: (_ctx, interaction) => `${issuerOrigin}${INTERACTION_PATH}/${interaction.uid}`,
    },
    loadExistingGrant: async (ctx) => {
      const { oidc } = ctx;
      const accountId = oidc.session!.accountId!;
      const clientId = oidc.client!.clientId;
      // Read, not grantIdFor(): that getter adds an empty entry to the session (a write on a refused request).
      const grantId = oidc.result?.consent?.grantId ?? oidc.session!.authorizations?.[clientId]?.grantId;
      const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      const grant = existing ?? new oidc.provider.Grant({ accountId, clientId });
      // The admin scope is granted only to the console, and only to users holding the admin role.
      const mayAdmin = clientId === CONSOLE_CLIENT_ID && (await deps.users.findById(accountId))?.roles.includes(ADMIN_ROLE) === true;
      const scopes = [...(oidc.requestParamOIDCScopes ?? [])].filter((s) => s !== ADMIN_SCOPE || mayAdmin);
      const claims = [...(oidc.requestParamClaims ?? [])];
      const before = JSON.stringify([grant.getOIDCScope(), grant.getOIDCClaims()]);
      // Nothing asked for: no grant to store (the provider then refuses the request with access_denied).
      if (!existing && !scopes.length && !claims.length) return undefined;
      if (scopes.length) grant.addOIDCScope(scopes.join(' '));
      if (claims.length) grant.addOIDCClaims(claims);
      if (!existing || JSON.stringify([grant.getOIDCScope(), grant.getOIDCClaims()]) !== before) await grant.save();
      return grant;
    },
    renderError: sources.renderError,
    // Browsers send Origin on same-origin POSTs too: Keyhold's own pages (the console) are always
    // allowed; other origins only when the client lists them (authorization-code browser apps).
    clientBasedCORS: (_ctx, origin, client) => {
      if (origin === issuerOrigin) return true;
      const allowed = (client as unknown as { [key: string]: unknown })['keyhold_allowed_cors_origins'];
      return Array.isArray(allowed) && allowed.includes(origin);
    },
    discovery: {
      service_documentation: undefined,
      // The languages of the pages (ui_locales picks one; pages/i18n.ts).
      ui_locales_supported: [...LOCALES],
    },
    conformIdTokenClaims: true,
    // POST at the authorization endpoint is served by src/http/provider-mount.ts (as a GET): the provider's
    // own POST support would need SameSite=None cookies, which browsers refuse over plain http.
    enableHttpPostMethods: false,
  };

  const provider = new Provider(deps.issuer, configuration);
  provider.proxy = deps.trustProxy;

  // The few places where no public option does what Keyhold needs; each module checks the internal it
  // adapts is still there and says so at start if an upgrade moved it.
  installOfflineAccessConsent(provider);
  installHybridLocalhost(provider);
  installClientSecretCheck(provider, deps.throttle.guardSecretCheck(deps.secrets.verify));
  if (deps.metricsMiddleware) provider.use(deps.metricsMiddleware);
  provider.use(deps.throttle.middleware());
  // Outside the grace, so a replay it answers is not reported as refused.
  installGrantErrors(provider, { logger: deps.logger, models: deps.models });
  if (deps.refreshGrace) installRefreshGrace(provider, deps.refreshGrace);
  installPagePolish(provider, { pages: deps.pages, users: deps.users, issuer: deps.issuer });

  // oidc-provider answers a grant type the client may not use with invalid_request; RFC 6749 says
  // unauthorized_client (e.g. a refresh after allowRefreshToken was turned off: the clients repository
  // has already ended those refresh tokens).
  provider.use(async (ctx, next) => {
    await next();
    const grantType = ctx.oidc?.params?.['grant_type'];
    const client = ctx.oidc?.client;
    const body = ctx.body as { error?: string; error_description?: string } | undefined;
    if (ctx.oidc?.route !== 'token' || ctx.status !== 400 || body?.error !== 'invalid_request') return;
    if (typeof grantType !== 'string' || !client || client.grantTypeAllowed(grantType)) return;
    ctx.body = { ...body, error: 'unauthorized_client' };
  });

  // The end-session endpoint keeps `state` in the session, and the engine saves a session again outside
  // its error handling: a value Postgres cannot store (U+0000, refused by oidc/adapter.ts) would end the
  // request in a bare text answer. It is refused here first, as any other invalid request.
  provider.use(async (ctx, next) => {
    if (ctx.path !== '/session/end' || !Object.values(ctx.query).flat().some((value) => value?.includes('\u0000'))) return next();
    const out = { error: 'invalid_request', error_description: 'request parameters must not contain U+0000' };
    ctx.status = 400;
    ctx.set('cache-control', 'no-store');
    if (ctx.accepts('json', 'html') !== 'html') ctx.body = out;
    else {
      ctx.type = 'html';
      ctx.body = sources.requestErrorPage(providerLocale(ctx), { signingOut: true, detail: `${out.error}: ${out.error_description}` });
    }
  });

  provider.on('server_error', (_ctx, err) => {
    if (!isDatabaseUnavailable(err)) deps.logger.error({ err }, 'oidc-provider server error');
  });
  return provider;
}
