/**
 * Lifetimes the provider configuration uses (oidc/provider.ts) and what follows from them for signing
 * keys (repos/keys.ts).
 */

/** Seconds an ID token is valid. */
export const ID_TOKEN_TTL = 3600;

/** Seconds a sign-in session at Keyhold lasts. */
export const SESSION_TTL = 14 * 24 * 3600;

/**
 * Seconds a signing key stays published after it stopped signing (when the next key of its algorithm
 * became active).
 *
 * ID tokens are all Keyhold signs: access and refresh tokens are opaque, and JWT userinfo,
 * introspection and authorization responses and back-channel logout tokens are off. An ID token is
 * valid for ID_TOKEN_TTL, but an app hands it back as `id_token_hint` at sign-out for as long as the
 * user stays signed in, and the end-session endpoint accepts it expired (it checks the signature,
 * audience and issuer). So a key is kept for the longer of the two: until no ID token it signed can
 * still be valid, or be presented at sign-out for a session that still exists.
 */
export const SIGNING_KEY_RETENTION = Math.max(ID_TOKEN_TTL, SESSION_TTL);
