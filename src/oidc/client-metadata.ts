import { isNativeUrl } from '../redirect-uris.ts';
import type { Client } from '../repos/clients.ts';
import { ADMIN_ROLE, ADMIN_SCOPE } from '../roles.ts';

/** Keyhold-specific client metadata carried through oidc-provider (see `extraClientMetadata`). */
export const EXTRA_CLIENT_METADATA = [
  'keyhold_type',
  'keyhold_access_token_lifetime',
  'keyhold_roles',
  'keyhold_allowed_cors_origins',
] as const;

/** A native app's URL: http on a loopback host, or a private-use scheme (RFC 8252). */
function isNativeRedirectUri(uri: string): boolean {
  const url = URL.parse(uri);
  return url !== null && isNativeUrl(url);
}

/**
 * Turns a client row into oidc-provider client metadata. Clients with native URLs (loopback http or a
 * private-use scheme) are registered as `native`, which gives them RFC 8252 loopback port matching and
 * makes PKCE mandatory.
 */
export function clientMetadata(client: Client, placeholderSecret: string): Record<string, unknown> {
  const uris = [...client.redirectUris, ...client.postLogoutRedirectUris];
  const native = uris.some(isNativeRedirectUri);
  const common = {
    client_id: client.id,
    client_name: client.name,
    keyhold_type: client.type,
    keyhold_access_token_lifetime: client.accessTokenLifetime,
    keyhold_roles: client.roles,
  };
  switch (client.type) {
    case 'hybrid':
      return {
        ...common,
        application_type: native ? 'native' : 'web',
        // Verified against argon2id hashes by Keyhold; this value itself never authenticates anyone.
        client_secret: placeholderSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: client.redirectUris,
        post_logout_redirect_uris: client.postLogoutRedirectUris,
        response_types: ['code id_token', 'code'],
        grant_types: ['authorization_code', 'implicit', ...(client.allowRefreshToken ? ['refresh_token'] : [])],
      };
    case 'authorization-code':
      return {
        ...common,
        application_type: native ? 'native' : 'web',
        token_endpoint_auth_method: 'none',
        keyhold_allowed_cors_origins: client.allowedCorsOrigins,
        redirect_uris: client.redirectUris,
        post_logout_redirect_uris: client.postLogoutRedirectUris,
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token'],
      };
    case 'client-credentials':
      return {
        ...common,
        // oidc-provider lets a client without `scope` ask for any scope in the client_credentials grant:
        // only clients holding the admin role may ask for `admin`.
        scope: client.roles.includes(ADMIN_ROLE) ? ADMIN_SCOPE : 'openid',
        client_secret: placeholderSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [],
        response_types: [],
        grant_types: ['client_credentials'],
      };
  }
}
