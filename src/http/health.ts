import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool.ts';

/**
 * /healthz: the process answers. /readyz: the database answers too, and the instance is not shutting
 * down (`isDraining`, see drain.ts). (/metrics: metrics-routes.ts.)
 */
export async function healthRoutes(app: FastifyInstance, { pool, isDraining = () => false }: { pool: Pool; isDraining?: () => boolean }) {
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
}
