/**
 * A tiny cookie-keeping HTTP agent over fetch, for driving the sign-in pages without a browser.
 * Redirects are not followed automatically so tests can see every hop.
 */
export class Agent {
  readonly cookies = new Map<string, string>();

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const set of response.headers.getSetCookie()) {
      const [pair] = set.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(set) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** Follows redirects (resolving relative Locations) until a non-redirect or a URL outside `origin`. */
  async follow(url: string, origin: string, init: RequestInit = {}): Promise<{ response: Response; url: string }> {
    let current = url;
    let response = await this.fetch(current, init);
    for (let hops = 0; hops < 20 && response.status >= 300 && response.status < 400; hops++) {
      const location = response.headers.get('location');
      if (!location) break;
      current = new URL(location, current).href;
      if (!current.startsWith(origin)) return { response, url: current };
      response = await this.fetch(current);
    }
    return { response, url: current };
  }
}

/** Pulls the hidden CSRF token and the form action out of the sign-in page. */
export function loginForm(html: string): { action: string; csrf: string } {
  const action = /<form method="post" action="([^"]+\/login)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !csrf) throw new Error(`no sign-in form in the page:\n${html.slice(0, 500)}`);
  return { action: action.replace(/&amp;/g, '&'), csrf };
}
