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

/** What posting the sign-in form led to. */
export interface SignInAttempt {
  /** The POST's status: 303 either way (a refusal redirects back to the sign-in page), 429, 403... */
  status: number;
  /** Refused: sent back to the sign-in page (Post/Redirect/Get), whose page is `html`. */
  refused: boolean;
  /** Where the POST redirected to. */
  location: string | null;
  /** The page shown in the end: the sign-in page again after a refusal, else the POST's own answer. */
  html: string;
  headers: Headers;
}

/**
 * Posts the sign-in form as a browser would and, when Keyhold sends the browser back to the sign-in
 * page, follows that redirect (the page saying why is a GET, so Back and reload post nothing again).
 */
export async function postSignIn(agent: Agent, action: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<SignInAttempt> {
  const response = await agent.fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  const location = response.headers.get('location');
  const back = location ? new URL(location, action) : undefined;
  const refused = response.status === 303 && back !== undefined && /^\/interaction\/[^/]+$/.test(back.pathname);
  if (!refused) return { status: response.status, refused, location, html: await response.text(), headers: response.headers };
  await response.arrayBuffer();
  const page = await agent.fetch(back!.href, { headers });
  return { status: response.status, refused, location, html: await page.text(), headers: response.headers };
}
