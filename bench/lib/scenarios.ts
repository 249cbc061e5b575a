import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from '../../src/db/pool.ts';
import type { Options, ScenarioName } from './options.ts';
import type { LoadJob, ServerConfig } from './protocol.ts';
import type { Row } from './report.ts';
import { seedClients } from './seed.ts';
import type { Server } from './server-process.ts';

/** The scenarios the benchmark measures, and the engines they run on. */

export const REDIRECT_URI = 'https://app.example.com/callback';
/** Codes and refresh tokens carry offline_access, so a code exchange also issues a refresh token. */
const TOKEN_SCOPE = 'openid profile email offline_access';
const ACCESS_SCOPE = 'openid profile email';
const FORM = 'application/x-www-form-urlencoded';
/** Access tokens minted once per engine, sent in turn by introspection and userinfo. */
const ACCESS_TOKENS = 2000;
const ADMIN_CLIENTS = 10_000;
/** Authorization codes live 60 s: minting plus the measurement must fit in that. */
const CODE_MAX_SECONDS = 40;
/** Once-only values minted for a measured run, over what the calibration run's rate says it will use. */
const MINT_MARGIN = 2;
/** The calibration run has no rate to go by yet: this many values per second of it (it ends early if they run out). */
const CALIBRATION_RATE_GUESS = 1000;

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = (c: Credentials) => `Basic ${Buffer.from(`${encodeURIComponent(c.id)}:${encodeURIComponent(c.secret)}`).toString('base64')}`;
const verifier = randomBytes(32).toString('base64url');
const pkce = { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };

export interface Credentials {
  id: string;
  secret: string;
}

/** An engine under test: how to start it, and the clients and accounts it knows. */
export interface EngineSetup {
  name: 'keyhold' | 'bare';
  config: () => Promise<ServerConfig>;
  /** A client-credentials client: the token scenario, and the resource server that introspects. */
  resourceServer: Credentials;
  /** A hybrid client with refresh tokens: codes, refresh tokens and access tokens are issued to it. */
  app: Credentials;
  accountIds: string[];
  /** Access tokens for introspection and userinfo; Keyhold's outlive its process (they are rows in Postgres). */
  tokens: { access?: string[] };
}

/** An engine with a server process running for one scenario. */
export interface Engine extends EngineSetup {
  server: Server;
}

export interface Phase {
  warmupSeconds: number;
  seconds: number;
  /** Units per second seen in a calibration run; absent for the calibration run itself. */
  expectedRate?: number;
}

export interface Scenario {
  name: ScenarioName;
  title: string;
  engines: Array<Engine['name']>;
  unit: Row['unit'];
  maxSeconds?: number;
  /** Warm-up within the run, when not the default one. */
  warmupSeconds?: number;
  /**
   * Uses once-only values (codes, refresh tokens): a short calibration run first shows how fast they
   * go, so the measured run gets enough of them without minting far too many.
   */
  calibrate?: boolean;
  /** Runs once the server is up, before the measurement. */
  prepare?(engine: Engine): Promise<void>;
  /** The load generator's job for one run, minting first whatever it uses up. */
  job(engine: Engine, phase: Phase): Promise<LoadJob>;
}

const accessTokensOf = async (e: Engine) =>
  (e.tokens.access ??= await e.server.mint({ kind: 'access', count: ACCESS_TOKENS, clientId: e.app.id, accountIds: e.accountIds, scope: ACCESS_SCOPE }));

/** What the scenarios use of the run: its options, its log, and what it sets up before they run. */
export interface ScenarioContext {
  options: Options;
  progress: (message: string) => void;
  pool: () => Pool | undefined;
  /** The client the admin scenario asks an admin token for, once the run has created it. */
  adminClient: () => Credentials | undefined;
  signinUsers: Array<{ username: string; password: string }>;
}

export function createScenarios({ options, progress, pool, adminClient, signinUsers }: ScenarioContext): Scenario[] {
  /** How many once-only values a run needs: what the rate says, with a margin, never fewer than a few per connection. */
  function onceCount(phase: Phase): number {
    const seconds = phase.warmupSeconds + phase.seconds;
    const expected = phase.expectedRate === undefined ? CALIBRATION_RATE_GUESS * seconds : phase.expectedRate * seconds * MINT_MARGIN;
    return Math.max(options.connections * 4, Math.ceil(expected));
  }

  const http = (e: Engine, phase: Phase, rest: Omit<Extract<LoadJob, { kind: 'http' }>, 'kind' | 'origin' | 'connections' | 'seconds' | 'warmupSeconds'>): LoadJob => ({
    kind: 'http',
    origin: e.server.origin,
    connections: options.connections,
    warmupSeconds: phase.warmupSeconds,
    seconds: phase.seconds,
    ...rest,
  });

  /** Values minted beforehand (codes, refresh tokens), each sent once to the token endpoint by the app. */
  const eachOnceAtTokenEndpoint = (e: Engine, phase: Phase, values: string[], body: (value: string) => Record<string, string>) =>
    http(e, phase, {
      once: true,
      request: { method: 'POST', path: '/token', headers: { authorization: basic(e.app), 'content-type': FORM } },
      variants: values.map((value) => ({ body: form(body(value)) })),
    });

  let adminToken: string | undefined;

  return [
    {
      name: 'client_credentials',
      title: 'client_credentials token',
      engines: ['bare', 'keyhold'],
      unit: 'request',
      job: async (e, phase) =>
        http(e, phase, {
          once: false,
          request: { method: 'POST', path: '/token', headers: { authorization: basic(e.resourceServer), 'content-type': FORM }, body: 'grant_type=client_credentials' },
        }),
    },
    {
      name: 'code',
      title: 'authorization code exchange',
      engines: ['bare', 'keyhold'],
      unit: 'request',
      maxSeconds: CODE_MAX_SECONDS,
      calibrate: true,
      job: async (e, phase) => {
        const codes = await e.server.mint({
          kind: 'code',
          count: onceCount(phase),
          clientId: e.app.id,
          accountIds: e.accountIds,
          scope: TOKEN_SCOPE,
          redirectUri: REDIRECT_URI,
          codeChallenge: pkce.challenge,
        });
        return eachOnceAtTokenEndpoint(e, phase, codes, (code) => ({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: pkce.verifier }));
      },
    },
    {
      name: 'refresh',
      title: 'refresh (rotating)',
      engines: ['bare', 'keyhold'],
      unit: 'request',
      calibrate: true,
      job: async (e, phase) => {
        const tokens = await e.server.mint({ kind: 'refresh', count: onceCount(phase), clientId: e.app.id, accountIds: e.accountIds, scope: TOKEN_SCOPE });
        return eachOnceAtTokenEndpoint(e, phase, tokens, (token) => ({ grant_type: 'refresh_token', refresh_token: token }));
      },
    },
    {
      name: 'introspection',
      title: 'introspection',
      engines: ['bare', 'keyhold'],
      unit: 'request',
      job: async (e, phase) =>
        http(e, phase, {
          once: false,
          request: { method: 'POST', path: '/token/introspection', headers: { authorization: basic(e.resourceServer), 'content-type': FORM } },
          variants: (await accessTokensOf(e)).map((token) => ({ body: form({ token, token_type_hint: 'access_token' }) })),
        }),
    },
    {
      name: 'userinfo',
      title: 'userinfo',
      engines: ['bare', 'keyhold'],
      unit: 'request',
      job: async (e, phase) =>
        http(e, phase, {
          once: false,
          request: { method: 'GET', path: '/me', headers: {} },
          variants: (await accessTokensOf(e)).map((token) => ({ headers: { authorization: `Bearer ${token}` } })),
        }),
    },
    {
      name: 'signin',
      title: 'full sign-in (5 requests)',
      engines: ['keyhold'],
      unit: 'sign-in',
      // A sign-in waits its turn for argon2id (over a second at 32 connections): the pipeline needs
      // longer to fill before the measurement starts.
      warmupSeconds: 4,
      job: async (e, phase) => ({
        kind: 'signin',
        origin: e.server.origin,
        connections: options.connections,
        warmupSeconds: phase.warmupSeconds,
        seconds: phase.seconds,
        signin: { clientId: e.app.id, clientSecret: e.app.secret, redirectUri: REDIRECT_URI, scope: ACCESS_SCOPE, users: signinUsers },
      }),
    },
    {
      name: 'admin',
      title: `admin API first page (${(ADMIN_CLIENTS / 1000).toFixed(0)}k clients)`,
      engines: ['keyhold'],
      unit: 'request',
      prepare: async (e) => {
        const added = await seedClients(pool()!, ADMIN_CLIENTS);
        progress(`    seeded ${added.toLocaleString('en-US')} clients`);
        const answer = await fetch(`${e.server.origin}/token`, {
          method: 'POST',
          headers: { authorization: basic(adminClient()!), 'content-type': FORM },
          body: form({ grant_type: 'client_credentials', scope: 'admin' }),
        });
        const token = (await answer.json()) as { access_token?: string };
        if (!token.access_token) throw new Error(`no admin token: ${answer.status} ${JSON.stringify(token)}`);
        adminToken = token.access_token;
      },
      job: async (e, phase) =>
        http(e, phase, { once: false, request: { method: 'GET', path: '/api/v1/clients', headers: { authorization: `Bearer ${adminToken}` } } }),
    },
  ];
}
