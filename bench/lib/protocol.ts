/**
 * The messages the orchestrator (bench/run.ts) exchanges over IPC with its child processes: the two
 * servers, the load generator and the argon2id verifier. Every child is a separate process so that
 * each one's CPU can be read from /proc and none of them steals the others' event loop.
 */

// ---- servers (bench/server.ts) ----

/** A static client of the bare engine (oidc-provider keeps its plaintext secret in configuration). */
export interface BareClient {
  clientId: string;
  secret: string;
  kind: 'client-credentials' | 'app';
  redirectUris: string[];
}

export type ServerConfig =
  | {
      engine: 'keyhold';
      port: number;
      databaseUrl: string;
      /** Base64 of 32 bytes, for ENCRYPTION_KEYS. */
      encryptionKey: string;
      /** Passed to buildApp; the scale run uses a short one so that sweeping overlaps the load. */
      sweepIntervalMs?: number;
    }
  | { engine: 'bare'; port: number; clients: BareClient[] };

/** Codes and tokens minted through the provider's model API, never over HTTP. */
export interface MintRequest {
  kind: 'code' | 'refresh' | 'access';
  count: number;
  clientId: string;
  /** Cycled over: each value is issued to the next account of the list. */
  accountIds: string[];
  scope: string;
  /** Codes only. */
  redirectUri?: string;
  /** Codes only: the S256 challenge of the verifier the load generator will send. */
  codeChallenge?: string;
}

export type ToServer = { type: 'mint'; id: number; request: MintRequest } | { type: 'queries'; id: number } | { type: 'stop' };

export type FromServer =
  | { type: 'ready'; pid: number }
  | { type: 'minted'; id: number; values: string[]; ms: number }
  /** Queries sent to Postgres since the server started (every pg client of the process). */
  | { type: 'queries'; id: number; count: number }
  | { type: 'failed'; id?: number; message: string };

// ---- load generator (bench/loadgen.ts) ----

export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** What changes from one request to the next: a body, or headers (a bearer token). */
export interface Variant {
  body?: string;
  headers?: Record<string, string>;
}

export interface SigninSpec {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scope: string;
  /** Cycled over by the connections. */
  users: Array<{ username: string; password: string }>;
}

interface JobBase {
  origin: string;
  connections: number;
  /** Load before the measurement starts, in the same run (connections and the pipeline are warm). */
  warmupSeconds: number;
  /** Measured seconds, after the warm-up. */
  seconds: number;
}

export type LoadJob =
  | (JobBase & {
      kind: 'http';
      request: HttpRequestSpec;
      /** Per-request changes; without them every request is `request` itself. */
      variants?: Variant[];
      /** Each variant is sent at most once (codes, refresh tokens); the run ends early when they run out. */
      once: boolean;
    })
  | (JobBase & { kind: 'signin'; signin: SigninSpec });

/** Everything counts from the end of the warm-up, except the `warmup*` fields. */
export interface LoadResult {
  /** Completed units: responses for `http`, whole sign-ins for `signin`. */
  completed: number;
  /** HTTP responses of any status. */
  responses: number;
  /** Seconds from the end of the warm-up to the last response. */
  elapsedS: number;
  /** completed / elapsedS. */
  rate: number;
  /** Latency of one unit (a request, or a whole sign-in), in ms. */
  p50Ms: number;
  p99Ms: number;
  /** Responses with an unexpected status (non-2xx for `http`; any step off the expected path for `signin`). */
  badStatus: number;
  /** Socket errors, timeouts included. */
  socketErrors: number;
  timeouts: number;
  statuses: Record<string, number>;
  /** `once` runs: every variant was used before the time was up. */
  exhausted: boolean;
  /** Units per second and errors (bad statuses and socket errors) during the warm-up. */
  warmupRate: number;
  warmupErrors: number;
  /** A few unexpected responses, for diagnosis. */
  samples: string[];
}

export type ToLoadgen = { type: 'run'; job: LoadJob };
/** `measuring` is sent when the warm-up ends, so that the orchestrator reads /proc at that moment. */
export type FromLoadgen = { type: 'measuring' } | { type: 'result'; result: LoadResult } | { type: 'failed'; message: string };

// ---- argon2id verifier (bench/argon2.ts) ----

export interface Argon2Job {
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
}

export interface Argon2Result {
  verifies: number;
  elapsedS: number;
  rate: number;
  p50Ms: number;
  p99Ms: number;
}

export type ToArgon2 = { type: 'run'; job: Argon2Job };
export type FromArgon2 = { type: 'result'; result: Argon2Result } | { type: 'failed'; message: string };
