import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool.ts';
import type { Metrics } from '../metrics.ts';

/**
 * /healthz: the process answers. /readyz: the database answers too, and the instance is not shutting
 * down (`isDraining`, see drain.ts). /metrics: Prometheus text.
 */
export async function healthRoutes(app: FastifyInstance, { pool, metrics, isDraining = () => false }: { pool: Pool; metrics: Metrics; isDraining?: () => boolean }) {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    if (isDraining()) return reply.code(503).send({ status: 'unavailable', reason: 'shutting down' });
    try {
      await Promise.race([
        pool.query('SELECT 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('database timeout')), 2000).unref()),
      ]);
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'the database does not answer' });
    }
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type('text/plain; version=0.0.4');
    return metrics.render({
      keyhold_db_pool_connections: { help: 'Open database connections.', value: pool.totalCount },
      keyhold_db_pool_idle_connections: { help: 'Idle database connections.', value: pool.idleCount },
      keyhold_db_pool_waiting_requests: { help: 'Queries waiting for a connection.', value: pool.waitingCount },
    });
  });
}
