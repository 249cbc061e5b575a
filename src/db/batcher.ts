/**
 * Group commit for small statements on the token path. Callers ask for one item and wait for their own
 * answer; items that arrive while earlier statements are in flight are sent together in the next one
 * (one round trip, one commit, one plan for many rows). Under light load every item goes out at once,
 * alone; under load batches grow by themselves. Nothing is acknowledged before its statement commits,
 * so durability is that of a single statement.
 */
export interface BatcherOptions<I> {
  /**
   * Statements in flight at once (each holds a pool connection). Two: each statement costs Postgres
   * about the same CPU whatever its rows, so fewer, larger statements leave more for everything else
   * (measured with `npm run bench`: four in flight doubled Postgres CPU per code exchange), while one
   * slow statement does not hold up every other of its kind.
   */
  maxInFlight?: number;
  /** Items per statement. */
  maxBatch?: number;
  /** Items that must not share a statement (e.g. two upserts of one row) get the same key. */
  keyOf?: (item: I) => string;
}

export type BatchRunner<I, O> = (items: I[]) => Promise<O[]>;

export function createBatcher<I, O>(run: BatchRunner<I, O>, { maxInFlight = 2, maxBatch = 200, keyOf }: BatcherOptions<I> = {}) {
  interface Pending {
    item: I;
    resolve: (value: O) => void;
    reject: (err: unknown) => void;
  }
  let queue: Pending[] = [];
  let inFlight = 0;

  function take(): Pending[] {
    if (!keyOf) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      return batch;
    }
    const seen = new Set<string>();
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    for (const pending of queue) {
      const key = keyOf(pending.item);
      if (batch.length < maxBatch && !seen.has(key)) {
        seen.add(key);
        batch.push(pending);
      } else {
        rest.push(pending);
      }
    }
    queue = rest;
    return batch;
  }

  function flush(): void {
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = take();
      inFlight++;
      run(batch.map((p) => p.item)).then(
        (results) => batch.forEach((p, i) => p.resolve(results[i] as O)),
        (err: unknown) => batch.forEach((p) => p.reject(err)),
      ).finally(() => {
        inFlight--;
        flush();
      });
    }
  }

  return (item: I): Promise<O> =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      flush();
    });
}
