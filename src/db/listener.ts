import pg from 'pg';

export interface Listener {
  close(): Promise<void>;
}

/**
 * LISTENs on a channel over a dedicated connection, reconnecting after failures. `onReconnect` runs
 * after every reconnection: notifications sent while disconnected are lost, so callers drop caches.
 */
export function listen(
  connectionString: string,
  channel: string,
  onNotify: (payload: string) => void,
  { onError, onReconnect }: { onError?: (err: Error) => void; onReconnect?: () => void } = {},
): Listener {
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let first = true;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString, application_name: 'keyhold-listener' });
    c.on('notification', (msg) => {
      if (msg.channel === channel) onNotify(msg.payload ?? '');
    });
    c.on('error', (err) => {
      onError?.(err);
      retry(c);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      client = c;
      if (!first) onReconnect?.();
      first = false;
    } catch (err) {
      onError?.(err as Error);
      retry(c);
    }
  };

  const retry = (failed: pg.Client) => {
    failed.end().catch(() => undefined);
    if (client === failed) client = undefined;
    if (closed || timer) return;
    first = false;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, 1000);
    timer.unref();
  };

  void connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await client?.end().catch(() => undefined);
    },
  };
}
