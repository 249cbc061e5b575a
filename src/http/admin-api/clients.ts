import type { FastifyInstance, FastifyRequest } from 'fastify';
import { entityTag } from '../../errors.ts';
import type { ClientsService } from '../../services/clients.ts';
import { auditContext } from './auth.ts';

type IdParams = { id: string };
type SecretParams = { id: string; secretId: string };

/** The precondition a change carries (If-Match), for the services to check under their row lock. */
export const preconditionOf = (request: FastifyRequest) => ({ ifMatch: request.headers['if-match'] });

/** /clients and /clients/{id}/secrets: thin; every rule lives in the clients service. */
export async function clientRoutes(app: FastifyInstance, { clients }: { clients: ClientsService }) {
  app.get('/clients', async (request) => clients.list(request.query));

  app.post('/clients', async (request, reply) => {
    const created = await clients.create(request.body, auditContext(request));
    return reply
      .code(201)
      .header('location', `${request.routeOptions.url}/${created.client.id}`)
      .header('etag', entityTag(created.client.version))
      .send(created);
  });

  app.get<{ Params: IdParams }>('/clients/:id', async (request, reply) => {
    const client = await clients.get(request.params.id);
    return reply.header('etag', entityTag(client.version)).send(client);
  });

  app.patch<{ Params: IdParams }>('/clients/:id', async (request, reply) => {
    const client = await clients.update(request.params.id, request.body, auditContext(request), preconditionOf(request));
    return reply.header('etag', entityTag(client.version)).send(client);
  });

  app.delete<{ Params: IdParams }>('/clients/:id', async (request, reply) => {
    await clients.delete(request.params.id, auditContext(request), preconditionOf(request));
    return reply.code(204).send();
  });

  app.get<{ Params: IdParams }>('/clients/:id/secrets', async (request) => clients.listSecrets(request.params.id));

  app.post<{ Params: IdParams }>('/clients/:id/secrets', async (request, reply) => {
    const { secret, version } = await clients.addSecret(request.params.id, request.body, auditContext(request));
    // The client's own tag: adding a secret changed it.
    return reply.code(201).header('etag', entityTag(version)).send(secret);
  });

  app.delete<{ Params: SecretParams }>('/clients/:id/secrets/:secretId', async (request, reply) => {
    await clients.deleteSecret(request.params.id, request.params.secretId, auditContext(request));
    return reply.code(204).send();
  });
}
