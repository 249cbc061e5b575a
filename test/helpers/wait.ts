import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` every 50 ms until it returns something other than undefined or false; fails after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`still waiting, after ${ms} ms, for ${what}`);
    await sleep(50);
  }
}
