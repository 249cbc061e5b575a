import type { FastifyInstance } from 'fastify';
import type { ClientsService } from '../../services/clients.ts';
import { auditContext } from './auth.ts';

type IdParams = { id: string };
type SecretParams = { id: string; secretId: string };

/** /clients and /clients/{id}/secrets: thin; every rule lives in the clients service. */
export async function clientRoutes(app: FastifyInstance, { clients }: { clients: ClientsService }) {
  app.get('/clients', async (request) => clients.list(request.query));

  app.post('/clients', async (request, reply) => {
    const created = await clients.create(request.body, auditContext(request));
    return reply.code(201).header('location', `${request.routeOptions.url}/${created.client.id}`).send(created);
  });

  app.get<{ Params: IdParams }>('/clients/:id', async (request) => clients.get(request.params.id));

  app.patch<{ Params: IdParams }>('/clients/:id', async (request) => clients.update(request.params.id, request.body, auditContext(request)));

  app.delete<{ Params: IdParams }>('/clients/:id', async (request, reply) => {
    await clients.delete(request.params.id, auditContext(request));
    return reply.code(204).send();
  });

  app.get<{ Params: IdParams }>('/clients/:id/secrets', async (request) => clients.listSecrets(request.params.id));

  app.post<{ Params: IdParams }>('/clients/:id/secrets', async (request, reply) => {
    const secret = await clients.addSecret(request.params.id, request.body, auditContext(request));
    return reply.code(201).send(secret);
  });

  app.delete<{ Params: SecretParams }>('/clients/:id/secrets/:secretId', async (request, reply) => {
    await clients.deleteSecret(request.params.id, request.params.secretId, auditContext(request));
    return reply.code(204).send();
  });
}
