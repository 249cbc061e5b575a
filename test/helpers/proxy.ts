import { Agent, createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

/**
 * A reverse proxy on loopback in front of several Keyhold instances, as nginx is in
 * docker-compose.yml: it forwards method, path, headers and body, adds X-Forwarded-For, -Proto and
 * -Host, and sends each request to the next instance in turn, per request and not per connection, so
 * consecutive requests of one browser (or one keep-alive connection) land on different instances.
 */

/** One request the proxy passed on. */
export interface Proxied {
  method: string;
  /** The path, without the query string. */
  path: string;
  /** The origin of the instance that answered. */
  upstream: string;
  status: number;
}

export interface RoundRobinProxy {
  /** http://127.0.0.1:PORT, the public URL (what the instances behind it name as ISSUER). */
  readonly origin: string;
  /** The instances' origins, in turn; set them once they listen. */
  upstreams: string[];
  /** Every request passed on, in order. */
  readonly log: Proxied[];
  /** Makes the next request go to `upstream`; the turns go on from there. */
  nextTo(upstream: string): void;
  /** How many of the requests logged since `from` each upstream answered. */
  counts(from?: number): Record<string, number>;
}

/** Headers that belong to one connection, never passed on (RFC 9110, 7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = new Set(String(headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()));
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name) && !named.has(name)));
}

export async function startProxy(t: Test): Promise<RoundRobinProxy> {
  const log: Proxied[] = [];
  const agent = new Agent({ keepAlive: true });
  let turn = 0;
  const state = { upstreams: [] as string[] };

  const server = createServer((req, res) => {
    const upstreams = state.upstreams;
    if (upstreams.length === 0) {
      res.writeHead(502).end('no upstream');
      return;
    }
    const upstream = upstreams[turn++ % upstreams.length]!;
    const path = (req.url ?? '/').split('?')[0]!;
    const headers = endToEnd(req.headers);
    const client = req.socket.remoteAddress ?? '';
    const forwardedFor = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = forwardedFor ? `${String(forwardedFor)}, ${client}` : client;
    headers['x-forwarded-proto'] = 'http';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;

    const target = new URL(req.url ?? '/', upstream);
    const out = request(target, { method: req.method, headers, agent }, (answer) => {
      log.push({ method: req.method ?? '', path, upstream, status: answer.statusCode ?? 0 });
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
      answer.pipe(res);
    });
    out.on('error', (err) => {
      log.push({ method: req.method ?? '', path, upstream, status: 502 });
      if (!res.headersSent) res.writeHead(502).end(`upstream failed: ${err.message}`);
      else res.destroy(err);
    });
    req.pipe(out);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    get upstreams() {
      return state.upstreams;
    },
    set upstreams(list: string[]) {
      state.upstreams = [...list];
      turn = 0;
    },
    log,
    nextTo(upstream: string) {
      const index = state.upstreams.indexOf(upstream);
      if (index < 0) throw new Error(`${upstream} is not behind this proxy`);
      turn = index;
    },
    counts(from = 0) {
      const counts: Record<string, number> = Object.fromEntries(state.upstreams.map((u) => [u, 0]));
      for (const entry of log.slice(from)) counts[entry.upstream] = (counts[entry.upstream] ?? 0) + 1;
      return counts;
    },
  };
}
