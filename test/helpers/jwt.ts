import { createHash, createPublicKey, verify, type JsonWebKey } from 'node:crypto';

/** What a relying party does with an ID token's signature: find its key in the JWKS by kid and check it. */

export interface Jwks {
  keys: (JsonWebKey & { kid: string; alg?: string })[];
}

export async function fetchJwks(issuer: string): Promise<Jwks> {
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
  return (await (await fetch(discovery.jwks_uri)).json()) as Jwks;
}

/**
 * True when `jwt` is signed (RS256 or ES256) by a key of `jwks` with the kid its header names; false when
 * the JWKS has no such key or the signature does not verify.
 */
export function signedBy(jwt: string, jwks: Jwks): boolean {
  const [header, payload, signature] = jwt.split('.');
  if (!header || !payload || !signature) return false;
  const { alg, kid } = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg: string; kid: string };
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (!jwk || (alg !== 'RS256' && alg !== 'ES256')) return false;
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  return verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
    Buffer.from(signature, 'base64url'),
  );
}

/** The left half of a value's SHA-256, as c_hash and at_hash carry it for RS256 and ES256. */
export function halfHash(value: string): string {
  const digest = createHash('sha256').update(value).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}
