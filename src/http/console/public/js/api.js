// The admin API client: bearer token, JSON, problem+json errors, entity tags. Three kinds of failure
// the pages tell apart: the API refused (ApiError, with its problem), the session ended
// (SessionEnded: sign in again, nothing typed is lost) and Keyhold could not be reached (Unreachable).

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The request failed (HTTP ${status}).`);
    this.status = status;
    this.problem = problem ?? {};
  }
}

export class SessionEnded extends Error {
  constructor() {
    super('Your session has ended.');
  }
}

export class Unreachable extends Error {
  constructor() {
    super('Keyhold cannot be reached. Check that it is running and that you are online, then try again. Nothing you typed is lost.');
  }
}

/** The quoted entity tag of a resource's version, as If-Match wants it. */
export const etagOf = (resource) => `"${resource.version}"`;

/**
 * `request(method, path, { body, ifMatch })` answers the parsed JSON (undefined for 204).
 * `session` gives the token and forgets it when the API refuses it; `onForbidden` runs on 403.
 */
export function createApi({ session, onForbidden }) {
  async function request(method, path, { body, ifMatch } = {}) {
    if (!session.current) throw new SessionEnded();
    let response;
    try {
      response = await fetch(`/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${session.current.accessToken}`,
          accept: 'application/json, application/problem+json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(ifMatch ? { 'if-match': ifMatch } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new Unreachable();
    }
    if (response.status === 204) return undefined;
    const data = await response.json().catch(() => undefined);
    if (response.status === 401) {
      session.end();
      throw new SessionEnded();
    }
    if (response.status === 403) onForbidden?.();
    // A proxy in front of a stopped Keyhold answers 502/504 without problem+json.
    if ((response.status === 502 || response.status === 504) && !data) throw new Unreachable();
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** Every item of a paged list, following `nextCursor`. */
  async function listAll(path) {
    const items = [];
    let cursor;
    for (let page = 0; page < 100; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const data = await request('GET', `${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`);
      items.push(...(data?.items ?? []));
      cursor = data?.nextCursor;
      if (!cursor) break;
    }
    return items;
  }

  return { request, listAll };
}
