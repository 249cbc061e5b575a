import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool.ts';

/** /healthz: the process answers. /readyz: the database answers too. (/metrics: metrics-routes.ts.) */
export async function healthRoutes(app: FastifyInstance, { pool }: { pool: Pool }) {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
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
