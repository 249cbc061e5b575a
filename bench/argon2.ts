/**
 * The sign-in scenario's yardstick: how many argon2id password verifications per second this machine
 * does, with Keyhold's own parameters (src/passwords.ts) and as many in flight as the load generator
 * has connections, in a process of its own. A sign-in can hardly go faster than one verification.
 */
import { randomBytes } from 'node:crypto';
import { hashSecret, verifySecret } from '../src/passwords.ts';
import type { Argon2Job, FromArgon2, ToArgon2 } from './lib/protocol.ts';
import { Latencies } from './lib/stats.ts';

async function verifyFor(seconds: number, concurrency: number, hash: string, password: string, latencies?: Latencies) {
  const started = performance.now();
  const until = started + seconds * 1000;
  let verifies = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        if (!(await verifySecret(hash, password))) throw new Error('argon2id verification failed');
        latencies?.add(performance.now() - t0);
        verifies++;
      }
    }),
  );
  return { verifies, elapsedS: (performance.now() - started) / 1000 };
}

async function run(job: Argon2Job) {
  const password = randomBytes(12).toString('base64url');
  const hash = await hashSecret(password);
  await verifyFor(job.warmupSeconds, job.concurrency, hash, password);
  const latencies = new Latencies();
  const { verifies, elapsedS } = await verifyFor(job.seconds, job.concurrency, hash, password, latencies);
  return { verifies, elapsedS, rate: verifies / elapsedS, p50Ms: latencies.percentile(0.5), p99Ms: latencies.percentile(0.99) };
}

process.once('message', (message: ToArgon2) => {
  run(message.job).then(
    (result) => process.send!({ type: 'result', result } satisfies FromArgon2, () => process.exit(0)),
    (err: unknown) => process.send!({ type: 'failed', message: err instanceof Error ? err.message : String(err) } satisfies FromArgon2, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(0));
