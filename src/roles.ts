/**
 * Every role and scope name Keyhold gives a meaning to, and that meaning. Roles are held by users and
 * clients (stored in their `roles`); scopes are what tokens carry. Nothing else in src spells these names.
 */

/**
 * The administrator's role. A user holding it may sign in to the admin console and get a token with the
 * admin scope there; a client-credentials client holding it may ask the token endpoint for the admin scope.
 * Keyhold keeps at least one enabled user holding it (the first is created at start).
 */
export const ADMIN_ROLE = 'admin';

/** A client-credentials client holding it is a resource server: it may introspect any token, not only its own. */
export const RESOURCE_SERVER_ROLE = 'resource-server';

/** The roles a user may hold. */
export const USER_ROLES = [ADMIN_ROLE] as const;

/** The roles a client may hold (both only take effect on client-credentials clients). */
export const CLIENT_ROLES = [ADMIN_ROLE, RESOURCE_SERVER_ROLE] as const;

/**
 * The scope an access token needs to call the admin API: issued only to the admin console for a user
 * holding the admin role, or to a client-credentials client holding it.
 */
export const ADMIN_SCOPE = 'admin';

/** The scopes Keyhold understands: the OpenID Connect ones and the admin scope. */
export const SCOPES = ['openid', 'offline_access', 'profile', 'email', ADMIN_SCOPE];
