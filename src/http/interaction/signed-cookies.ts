import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/**
 * The sign-in pages' own secrets: the CSRF token of a sign-in form, and cookies whose values are signed
 * (JSON, then a MAC) so that a browser can carry state across a redirect without being able to forge it.
 * Every MAC is keyed by `key` and bound to its purpose (the cookie's name, or the form).
 */
export function signedCookies(key: string, { path, secure }: { path: string; secure: boolean }) {
  const mac = (purpose: string, value: string) => createHmac('sha256', key).update(`${purpose}:${value}`).digest('base64url');
  const same = (a: string, b: string) => {
    const [x, y] = [Buffer.from(a), Buffer.from(b)];
    return x.length === y.length && timingSafeEqual(x, y);
  };
  const csrfFor = (uid: string) => mac('interaction', uid);

  return {
    csrfFor,
    csrfValid: (uid: string, token: string) => same(csrfFor(uid), token),

    /** A Set-Cookie value: `value` (empty with maxAge 0 to clear it) on the sign-in pages' path, HttpOnly. */
    cookie: (name: string, value: string, maxAge: number) => `${name}=${value}; Path=${path}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`,

    /** A signed cookie value for `name`: JSON, then its MAC. */
    seal(name: string, value: object): string {
      const json = Buffer.from(JSON.stringify(value)).toString('base64url');
      return `${json}.${mac(name, json)}`;
    },

    /** The value of the signed cookie `name` in the request; undefined when absent, altered or malformed. */
    unseal<T>(request: FastifyRequest, name: string): T | undefined {
      const raw = request.headers.cookie?.split(';').map((c) => c.trim()).find((c) => c.startsWith(`${name}=`))?.slice(name.length + 1);
      const [json, sig] = raw?.split('.') ?? [];
      if (!json || !sig || !same(mac(name, json), sig)) return undefined;
      try {
        return JSON.parse(Buffer.from(json, 'base64url').toString('utf8')) as T;
      } catch {
        return undefined;
      }
    },
  };
}
