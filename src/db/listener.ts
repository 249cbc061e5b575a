import pg from 'pg';

export interface Listener {
  /** True while the LISTEN connection is up: only then can a cache trust that it hears every change. */
  readonly live: boolean;
  close(): Promise<void>;
}

export interface ListenHooks {
  /** The connection failed or could not be opened: called once per outage, not for every retry that fails again. */
  onError?: (err: Error) => void;
  /** The connection is listening (again); notifications sent while it was down are lost. */
  onUp?: () => void;
  /** The connection failed or ended: from now on nothing is heard until `onUp`. */
  onDown?: () => void;
  /** Delay before reconnecting, in ms. */
  retryMs?: number;
}

/**
 * LISTENs on channels over one dedicated connection, reconnecting after failures; `handlers` maps each
 * channel to what hears it. Callers that cache what a channel announces changes of must stop trusting
 * the cache between `onDown` and `onUp`.
 */
export function listen(connectionString: string, handlers: Readonly<Record<string, (payload: string) => void>>, hooks: ListenHooks = {}): Listener {
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let reported = false;
  const report = (err: Error) => {
    if (reported) return;
    reported = true;
    hooks.onError?.(err);
  };

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString, application_name: 'keyhold-listener' });
    c.on('notification', (msg) => {
      if (Object.hasOwn(handlers, msg.channel)) handlers[msg.channel]!(msg.payload ?? '');
    });
    c.on('error', (err) => {
      report(err);
      retry(c);
    });
    c.on('end', () => retry(c));
    try {
      await c.connect();
      for (const channel of Object.keys(handlers)) await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (closed) {
        await c.end().catch(() => undefined);
        return;
      }
      client = c;
      reported = false;
      hooks.onUp?.();
    } catch (err) {
      report(err as Error);
      retry(c);
    }
  };

  const retry = (failed: pg.Client) => {
    if (client === failed) {
      client = undefined;
      hooks.onDown?.();
    }
    failed.removeAllListeners('end');
    failed.end().catch(() => undefined);
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, hooks.retryMs ?? 1000);
    timer.unref();
  };

  void connect();
  return {
    get live() {
      return client !== undefined;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      c?.removeAllListeners('end');
      await c?.end().catch(() => undefined);
    },
  };
}
