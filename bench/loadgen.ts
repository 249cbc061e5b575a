/**
 * The load generator: autocannon, run programmatically in a process of its own (never in the
 * orchestrator or a server), for one job received over IPC. It answers with one LoadResult and exits.
 *
 * `http` jobs send one request shape, optionally varied per request (each code or refresh token once,
 * or access tokens in turn). `signin` jobs walk a browser's whole sign-in on every connection:
 * authorization request, sign-in page, form post, resumed authorization, code exchange.
 */
import { createHash, randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import type { FromLoadgen, LoadJob, LoadResult, SigninSpec, ToLoadgen } from './lib/protocol.ts';
import { Latencies } from './lib/stats.ts';

type HttpJob = Extract<LoadJob, { kind: 'http' }>;
type SigninJob = Extract<LoadJob, { kind: 'signin' }>;

const MAX_SAMPLES = 5;

/**
 * What a run records. Load runs without a break from warm-up into measurement; only what happens
 * after the mark counts (the warm-up's own rate and errors are kept aside), and the orchestrator is
 * told the moment the mark passes so that its /proc readings cover the same span.
 */
class Tally {
  readonly statuses: Record<string, number> = {};
  readonly samples: string[] = [];
  readonly latencies = new Latencies();
  readonly #started = performance.now();
  readonly #markAt: number;
  lastResponseAt: number;
  responses = 0;
  completed = 0;
  badStatus = 0;
  socketErrors = 0;
  timeouts = 0;
  warmupCompleted = 0;
  warmupErrors = 0;

  constructor(warmupSeconds: number) {
    this.#markAt = this.#started + warmupSeconds * 1000;
    this.lastResponseAt = this.#markAt;
    setTimeout(() => process.send!({ type: 'measuring' } satisfies FromLoadgen), warmupSeconds * 1000).unref();
  }

  get measuring(): boolean {
    return performance.now() >= this.#markAt;
  }

  response(status: number): void {
    if (!this.measuring) return;
    this.responses++;
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    this.lastResponseAt = performance.now();
  }

  /** One unit done (a response, or a whole sign-in), `ms` long. */
  complete(ms: number): void {
    if (!this.measuring) {
      this.warmupCompleted++;
      return;
    }
    this.completed++;
    this.latencies.add(ms);
  }

  bad(what: string): void {
    if (this.measuring) this.badStatus++;
    else this.warmupErrors++;
    if (this.samples.length < MAX_SAMPLES) this.samples.push(`${this.measuring ? '' : '(warm-up) '}${what.slice(0, 400)}`);
  }

  socketError(err: Error): void {
    if (!this.measuring) {
      this.warmupErrors++;
      return;
    }
    this.socketErrors++;
    if (/timed out/.test(err.message)) this.timeouts++;
    if (this.samples.length < MAX_SAMPLES) this.samples.push(`socket: ${err.message}`);
  }

  result(exhausted: boolean): LoadResult {
    const elapsedS = Math.max(1e-3, (this.lastResponseAt - this.#markAt) / 1000);
    const warmupS = Math.max(1e-3, (this.#markAt - this.#started) / 1000);
    return {
      completed: this.completed,
      responses: this.responses,
      elapsedS,
      rate: this.completed / elapsedS,
      p50Ms: this.latencies.percentile(0.5),
      p99Ms: this.latencies.percentile(0.99),
      badStatus: this.badStatus,
      socketErrors: this.socketErrors,
      timeouts: this.timeouts,
      statuses: this.statuses,
      exhausted,
      warmupRate: this.warmupCompleted / warmupS,
      warmupErrors: this.warmupErrors,
      samples: this.samples,
    };
  }
}

/** Runs autocannon for warm-up + measurement, feeding the tally every response and socket error. */
function cannon(job: LoadJob, options: Omit<autocannon.Options, 'url' | 'connections' | 'duration'>, tally: Tally, onResponse?: (ms: number, status: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: job.origin, connections: job.connections, duration: job.warmupSeconds + job.seconds, ...options },
      (err) => (err ? reject(err) : resolve()),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      tally.response(status);
      onResponse?.(ms, status);
    });
    instance.on('reqError', (err) => tally.socketError(err));
  });
}

async function runHttp(job: HttpJob): Promise<LoadResult> {
  const tally = new Tally(job.warmupSeconds);
  const { variants } = job;
  let next = 0;
  const request: autocannon.Request = {
    ...job.request,
    onResponse: (status, body) => {
      if (status < 200 || status > 299) tally.bad(`${status} ${body}`);
    },
  };
  if (variants) {
    request.setupRequest = (req) => {
      const variant = variants[job.once ? next++ : next++ % variants.length];
      // Never reached while maxOverallRequests matches the list; if it were, the server says 400.
      if (!variant) return { ...req, body: 'bench=exhausted' };
      return { ...req, ...(variant.body === undefined ? {} : { body: variant.body }), headers: { ...req.headers, ...variant.headers } };
    };
  }
  await cannon(
    job,
    {
      requests: [request],
      // Each once-only value goes to exactly one request: the run stops when they are all used.
      ...(job.once && variants ? { maxOverallRequests: variants.length } : {}),
    },
    tally,
    (ms) => tally.complete(ms),
  );
  return tally.result(job.once && variants !== undefined && next >= variants.length);
}

// ---- sign-ins ----

interface Flow {
  started: number;
  user: { username: string; password: string };
  state: string;
  verifier: string;
  cookies: Map<string, string>;
  /** Where the last redirect pointed (a path on the server). */
  next?: string;
  form?: { action: string; csrf: string };
  code?: string;
  failed: boolean;
}

const header = (headers: Record<string, string | string[]>, name: string): string[] => {
  const found = Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  return found === undefined ? [] : Array.isArray(found) ? found : [found];
};

function keepCookies(flow: Flow, headers: Record<string, string | string[]>): void {
  for (const line of header(headers, 'set-cookie')) {
    const pair = line.split(';')[0] ?? '';
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) flow.cookies.delete(name);
    else flow.cookies.set(name, value);
  }
}

const cookieHeader = (flow: Flow): Record<string, string> =>
  flow.cookies.size ? { cookie: [...flow.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};

const unescapeHtml = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

async function runSignin(job: SigninJob): Promise<LoadResult> {
  const tally = new Tally(job.warmupSeconds);
  const spec: SigninSpec = job.signin;
  const origin = new URL(job.origin).origin;
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(spec.clientId)}:${encodeURIComponent(spec.clientSecret)}`).toString('base64')}`;
  let flows = 0;

  const flowOf = (context: autocannon.Context) => context.flow as Flow | undefined;
  const fail = (flow: Flow | undefined, step: string, status: number, body: string) => {
    if (flow) flow.failed = true;
    tally.bad(`${step}: ${status} ${body}`);
  };
  /** A redirect's Location as a path on the server, or undefined when it leaves it. */
  const redirectPath = (headers: Record<string, string | string[]>): string | undefined => {
    const location = header(headers, 'location')[0];
    if (!location) return undefined;
    const url = new URL(location, origin);
    return url.origin === origin ? `${url.pathname}${url.search}` : undefined;
  };
  const isRedirect = (status: number) => status >= 300 && status < 400;
  /** Later steps need what earlier ones found; without it the connection starts a new sign-in. */
  const usable = (flow: Flow | undefined): flow is Flow => flow !== undefined && !flow.failed;

  /** The browser follows the redirect an earlier step found, with its cookies. */
  const followRedirect: NonNullable<autocannon.Request['setupRequest']> = (req, context) => {
    const flow = flowOf(context);
    if (!usable(flow) || !flow.next) return null;
    return { ...req, method: 'GET', path: flow.next, headers: cookieHeader(flow), body: '' };
  };

  /** A step whose answer must redirect within Keyhold (to a path starting with `prefix`): the next step follows it. */
  const expectRedirect =
    (what: string, prefix: string): NonNullable<autocannon.Request['onResponse']> =>
    (status, body, context, headers) => {
      const flow = flowOf(context);
      if (!flow) return;
      keepCookies(flow, headers);
      const next = redirectPath(headers);
      if (!isRedirect(status) || !next?.startsWith(prefix)) return fail(flow, what, status, body);
      flow.next = next;
    };

  const steps: autocannon.Request[] = [
    {
      // 1. The application sends the browser to the authorization endpoint.
      setupRequest: (req, context) => {
        const flow: Flow = {
          started: performance.now(),
          user: spec.users[flows++ % spec.users.length]!,
          state: randomBytes(16).toString('base64url'),
          verifier: randomBytes(32).toString('base64url'),
          cookies: new Map(),
          failed: false,
        };
        context.flow = flow;
        const query = new URLSearchParams({
          client_id: spec.clientId,
          response_type: 'code',
          redirect_uri: spec.redirectUri,
          scope: spec.scope,
          state: flow.state,
          nonce: randomBytes(16).toString('base64url'),
          code_challenge: createHash('sha256').update(flow.verifier).digest('base64url'),
          code_challenge_method: 'S256',
        });
        return { ...req, method: 'GET', path: `/auth?${query}`, headers: {}, body: '' };
      },
      onResponse: expectRedirect('authorization request', '/interaction/'),
    },
    {
      // 2. The browser follows to the sign-in page.
      setupRequest: followRedirect,
      onResponse: (status, body, context, headers) => {
        const flow = flowOf(context);
        if (!flow) return;
        keepCookies(flow, headers);
        const action = /<form method="post" action="([^"]+\/login)"/.exec(body)?.[1];
        const csrf = /name="csrf" value="([^"]+)"/.exec(body)?.[1];
        if (status !== 200 || !action || !csrf) return fail(flow, 'sign-in page', status, body);
        flow.form = { action: unescapeHtml(action), csrf: unescapeHtml(csrf) };
      },
    },
    {
      // 3. The user submits the form (argon2id verification happens here).
      setupRequest: (req, context) => {
        const flow = flowOf(context);
        if (!usable(flow) || !flow.form) return null;
        const body = new URLSearchParams({ username: flow.user.username, password: flow.user.password, csrf: flow.form.csrf }).toString();
        return {
          ...req,
          method: 'POST',
          path: flow.form.action,
          headers: { ...cookieHeader(flow), 'content-type': 'application/x-www-form-urlencoded' },
          body,
        };
      },
      onResponse: expectRedirect('sign-in form', '/'),
    },
    {
      // 4. The browser resumes the authorization request, which redirects to the app with a code.
      setupRequest: followRedirect,
      onResponse: (status, body, context, headers) => {
        const flow = flowOf(context);
        if (!flow) return;
        keepCookies(flow, headers);
        const location = header(headers, 'location')[0] ?? '';
        const url = URL.parse(location);
        const params = url?.searchParams;
        if (!isRedirect(status) || !location.startsWith(spec.redirectUri) || params?.get('state') !== flow.state || !params.get('code')) {
          return fail(flow, 'resumed authorization', status, `${location} ${body}`);
        }
        flow.code = params.get('code')!;
      },
    },
    {
      // 5. The application exchanges the code at the token endpoint.
      setupRequest: (req, context) => {
        const flow = flowOf(context);
        if (!usable(flow) || !flow.code) return null;
        const body = new URLSearchParams({
          grant_type: 'authorization_code',
          code: flow.code,
          redirect_uri: spec.redirectUri,
          code_verifier: flow.verifier,
        }).toString();
        return { ...req, method: 'POST', path: '/token', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body };
      },
      onResponse: (status, body, context) => {
        const flow = flowOf(context);
        if (!flow) return;
        if (status !== 200 || !body.includes('"access_token"')) return fail(flow, 'code exchange', status, body);
        tally.complete(performance.now() - flow.started);
      },
    },
  ];

  // Sign-ins queue for argon2id: give them longer than autocannon's 10 s before calling it a timeout.
  await cannon(job, { requests: steps, timeout: 30 }, tally);
  return tally.result(false);
}

process.once('message', (message: ToLoadgen) => {
  const job = message.job;
  (job.kind === 'http' ? runHttp(job) : runSignin(job)).then(
    (result) => process.send!({ type: 'result', result } satisfies FromLoadgen, () => process.exit(0)),
    (err: unknown) =>
      process.send!({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies FromLoadgen, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(0));
