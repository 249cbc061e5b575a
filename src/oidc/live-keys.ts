import type Provider from 'oidc-provider';
import type { Logger } from '../logger.ts';
import type { KeyMaterial, KeysRepo, KeySnapshot, KeyState, PrivateJwk } from '../repos/keys.ts';
import { installLiveKeystore } from './engine/keystore.ts';

export interface LiveKeysOptions {
  provider: Provider;
  repo: KeysRepo;
  /** The keys the provider was constructed with (KeysRepo.ensure). */
  initial: KeyMaterial;
  /** Seconds before the keys of a scheduled rotation sign (KEY_ACTIVATION_DELAY). */
  activationDelay: number;
  /** Rotate when the newest key of an algorithm is this many days old; 0 is off (KEY_ROTATION_DAYS). */
  rotationDays: number;
  /** How often the keys are read again without being told (and the schedule checked), in ms. */
  checkIntervalMs: number;
  logger: Logger;
}

export interface LiveKeys {
  /** A change was announced (KEYS_CHANNEL), or announcements may have been missed: read the keys again soon. */
  heard(): void;
  /** Stops reading the keys; resolves once a read under way has ended. */
  close(): Promise<void>;
}

/** After a failed read, the next attempt comes this soon (or at the check interval, if sooner). */
const RETRY_MS = 5_000;
/** A key changes state at a moment the database's clock names: read them just after it. */
const AFTER_CHANGE_MS = 20;

/**
 * Keeps one instance's provider publishing and signing with the keys as they stand in the database.
 * The keys are read again when a change is announced, when a key is due to change state (a pending
 * one activates, a published one retires: those happen by the clock, with no announcement), and at
 * least every `checkIntervalMs`; with KEY_ROTATION_DAYS, each read also checks whether a rotation is
 * due and makes it (under the keys' lock, so one instance does).
 */
export function startLiveKeys(options: LiveKeysOptions): LiveKeys {
  const { repo, logger } = options;
  const keystore = installLiveKeystore(options.provider);
  /** The same object per kid across reads: the engine's JOSE library caches each key's import by object. */
  const jwks = new Map<string, PrivateJwk>();
  let states = new Map<string, KeyState>();

  const apply = (material: KeyMaterial) => {
    const published = material.signing.map((key) => jwks.get(key.kid) ?? key);
    jwks.clear();
    for (const key of published) jwks.set(key.kid, key);
    keystore.replace({ published, signing: material.active });
  };
  apply(options.initial);

  const report = (snapshot: KeySnapshot) => {
    const next = new Map(snapshot.keys.map((k) => [k.kid, k.state]));
    if (states.size) {
      for (const key of snapshot.keys) {
        const before = states.get(key.kid);
        if (before === key.state || (before === undefined && key.state === 'retired')) continue;
        logger.info({ kid: key.kid, alg: key.alg, state: key.state, ...(before ? { was: before } : {}) }, `signing key ${key.state}`);
      }
    }
    states = next;
  };

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const schedule = (ms: number) => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, Math.max(0, ms));
    timer.unref();
  };

  const tick = async (): Promise<number> => {
    let snapshot = await repo.snapshot(options.rotationDays);
    if (snapshot.due.length) {
      const rotation = await repo.rotateIfDue(options.rotationDays, options.activationDelay);
      if (rotation) {
        logger.info(
          { keys: rotation.keys.map((k) => ({ kid: k.kid, alg: k.alg, activatesAt: k.activatesAt })), replaced: rotation.replaced.map((k) => k.kid) },
          `signing keys rotated on schedule (KEY_ROTATION_DAYS=${options.rotationDays})`,
        );
      }
      snapshot = await repo.snapshot();
    }
    if (closed) return options.checkIntervalMs;
    apply(snapshot.material);
    report(snapshot);
    return Math.min(snapshot.nextChangeMs === null ? Infinity : snapshot.nextChangeMs + AFTER_CHANGE_MS, options.checkIntervalMs);
  };

  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      let wait: number;
      try {
        wait = await tick();
      } catch (err) {
        logger.warn({ err }, 'reading the signing keys failed; the ones in use stay until the next attempt');
        wait = Math.min(RETRY_MS, options.checkIntervalMs);
      }
      running = undefined;
      if (again) {
        again = false;
        schedule(0);
      } else schedule(wait);
    })();
  };

  // At start: the schedule may be overdue, and a change may have come between ensure() and now.
  schedule(0);

  return {
    heard() {
      if (running) again = true;
      else schedule(0);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
