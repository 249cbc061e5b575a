import { request, type IncomingHttpHeaders } from 'node:http';

/**
 * One HTTP request with headers fetch() will not send (a forged Host, X-Forwarded-*), or with a request
 * target fetch() will not write (absolute-form `http://other.example/...`). Connects to `url`'s host and
 * port; `host` and `target` change only what the request says.
 */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The cookies the response set, as name=value pairs. */
  cookies: Map<string, string>;
}

export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; target?: string } = {},
): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: options.method ?? 'GET',
        path: options.target ?? `${u.pathname}${u.search}`,
        headers: options.headers ?? {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const cookies = new Map<string, string>();
          for (const set of res.headers['set-cookie'] ?? []) {
            const [pair] = set.split(';');
            const eq = pair!.indexOf('=');
            cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), cookies });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * A cookie-keeping client that sends the same extra headers (say, a forged Host) on every request, and
 * keeps every Location it was sent, so a test can check where each hop pointed.
 */
export class RawAgent {
  readonly cookies = new Map<string, string>();
  readonly locations: string[] = [];
  readonly extraHeaders: Record<string, string>;
  constructor(extraHeaders: Record<string, string>) {
    this.extraHeaders = extraHeaders;
  }

  async send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await rawRequest(url, {
      ...options,
      headers: { ...this.extraHeaders, ...(cookie ? { cookie } : {}), ...options.headers },
    });
    for (const [name, value] of response.cookies) {
      if (value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    if (typeof response.headers.location === 'string') this.locations.push(response.headers.location);
    return response;
  }

  /** Follows redirects (as sent, relative or not) until a non-redirect or a URL outside `origin`. */
  async follow(url: string, origin: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
    let current = url;
    let response = await this.send(current, options);
    for (let hops = 0; hops < 20 && response.status >= 300 && response.status < 400 && response.headers.location; hops++) {
      current = new URL(response.headers.location, current).href;
      if (!current.startsWith(origin)) return { response, url: current };
      response = await this.send(current);
    }
    return { response, url: current };
  }
}
