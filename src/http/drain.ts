import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** After the drain, how long requests still in flight have to complete before the process gives up (and exits 1). */
export const SHUTDOWN_GRACE_SECONDS = 10;

/** A connection with no request in progress for this long, once the listener is closed, is closed too. */
const IDLE_MS = 1000;

export interface Drain {
  /** True once shutdown began: /readyz answers 503, so a load balancer stops sending. */
  readonly draining: boolean;
  /**
   * Shuts the HTTP server down without failing a request it accepted:
   *
   * 1. /readyz answers 503 for `drainMs`, while every request, in flight or new, is served as usual
   *    (a load balancer needs a few probes to take the instance out);
   * 2. the listener closes: new connections are refused (the load balancer's cue to use another
   *    instance), every response from then on carries `Connection: close`, and each connection ends
   *    after its last response; a connection idle for a second (its client sent nothing more) is
   *    closed.
   *
   * Resolves once no connection is left; later calls return the same promise.
   */
  shutdown(options: { drainMs: number }): Promise<void>;
}

interface Tracked {
  /** Requests received on the connection and not yet answered. */
  active: number;
  /** When the connection last had no request in progress. */
  idleSince: number;
}

/**
 * Tracks the HTTP server's connections and requests, for a shutdown that closes connections between
 * requests rather than under them. Closing every idle keep-alive connection at once (what Node's
 * `server.close()` does) cuts the requests their clients are sending at that moment, and an answer in
 * flight would still announce keep-alive; a 503 for every request once closing began (Fastify's
 * `return503OnClosing`) fails requests that reached a live instance.
 */
export function trackConnections(server: Server): Drain {
  const connections = new Map<Socket, Tracked>();
  const answering = new Set<ServerResponse>();
  let draining = false;
  let closing = false;
  let done: Promise<void> | undefined;

  server.on('connection', (socket: Socket) => {
    connections.set(socket, { active: 0, idleSince: Date.now() });
    socket.once('close', () => connections.delete(socket));
  });
  // Ahead of Fastify's own listener, so the header is decided before any answer is written.
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const tracked = connections.get(request.socket);
    if (tracked) tracked.active++;
    if (closing) response.shouldKeepAlive = false;
    answering.add(response);
    response.once('close', () => {
      answering.delete(response);
      if (tracked) {
        tracked.active--;
        if (tracked.active === 0) tracked.idleSince = Date.now();
      }
    });
  });

  async function run(drainMs: number): Promise<void> {
    draining = true;
    if (server.listening && drainMs > 0) await sleep(drainMs);
    closing = true;
    // Stops listening without Node's http close, which would also drop every idle keep-alive
    // connection at once, racing the clients about to send on them.
    NetServer.prototype.close.call(server);
    // Answers whose headers are not yet written say `Connection: close`; the rest end after the next one.
    for (const response of answering) if (!response.headersSent) response.shouldKeepAlive = false;
    while (connections.size > 0) {
      const now = Date.now();
      for (const [socket, tracked] of connections) {
        if (tracked.active === 0 && now - tracked.idleSince >= IDLE_MS) socket.destroy();
      }
      await sleep(50);
    }
  }

  return {
    get draining() {
      return draining;
    },
    shutdown({ drainMs }) {
      return (done ??= run(drainMs));
    },
  };
}
