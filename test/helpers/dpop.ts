import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { post, random, type TokenCall } from './flow.ts';

/** A client's DPoP key (RFC 9449): an ES256 key pair and the JWK SHA-256 thumbprint `dpop_jkt` names it by. */
export interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

export async function dpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

/** A DPoP proof JWT for one request: the public key in its header, a fresh jti, and the server's nonce when it asked for one. */
export function dpopProof(key: DpopKey, htm: string, htu: string, nonce?: string): Promise<string> {
  return new SignJWT({ htm, htu, jti: random(), ...(nonce === undefined ? {} : { nonce }) })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk })
    .setIssuedAt()
    .sign(key.privateKey);
}

/**
 * POSTs to the token endpoint with a DPoP proof from `key`, as a client would: when the server answers
 * use_dpop_nonce with a DPoP-Nonce header, once more with a proof carrying that nonce.
 */
export async function dpopPost(
  url: string,
  form: Record<string, string>,
  key: DpopKey,
  auth?: { clientId: string; secret: string; method?: 'basic' | 'post' },
): Promise<TokenCall> {
  const res = await post(url, form, auth, { dpop: await dpopProof(key, 'POST', url) });
  const nonce = res.headers.get('dpop-nonce');
  if (res.status !== 400 || res.body.error !== 'use_dpop_nonce' || !nonce) return res;
  return post(url, form, auth, { dpop: await dpopProof(key, 'POST', url, nonce) });
}
