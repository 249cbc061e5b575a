import type { FastifyInstance } from 'fastify';
import { forbidden } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { addressMatcher, type AddressRange } from '../security/address-list.ts';

/**
 * /metrics, in Prometheus text format, for the addresses in METRICS_ALLOW only (loopback by default);
 * anyone else gets 403 and no metrics.
 *
 * Both addresses Keyhold knows for a request must be allowed: the peer of the connection, and the client's
 * address (the same without TRUST_PROXY; with it, the last X-Forwarded-For entry, the one the proxy added).
 * So a request through a proxy on this host is judged by where it came from, not by the proxy's loopback
 * address; an X-Forwarded-For the client wrote itself is never the entry read; and a connection that does
 * not come through the proxy cannot borrow an allowed address by sending the header itself.
 */
export async function metricsRoutes(app: FastifyInstance, { metrics, allow }: { metrics: Metrics; allow: readonly AddressRange[] }) {
  const allowed = addressMatcher(allow);

  app.get('/metrics', async (request, reply) => {
    if (!allowed(request.raw.socket.remoteAddress) || !allowed(request.ip)) {
      request.log.debug({ address: request.ip }, 'metrics refused: the address is not in METRICS_ALLOW');
      throw forbidden('the metrics are not served to this address (see METRICS_ALLOW)');
    }
    reply.type(metrics.contentType).header('cache-control', 'no-store');
    return metrics.render();
  });
}
