import type { FastifyInstance } from 'fastify';
import { entityTag } from '../../errors.ts';
import type { UsersService } from '../../services/users.ts';
import { auditContext } from './auth.ts';
import { preconditionOf } from './clients.ts';

type IdParams = { id: string };

/** /users: thin; every rule lives in the users service. */
export async function userRoutes(app: FastifyInstance, { users }: { users: UsersService }) {
  app.get('/users', async (request) => users.list(request.query));

  app.post('/users', async (request, reply) => {
    const user = await users.create(request.body, auditContext(request));
    return reply.code(201).header('location', `${request.routeOptions.url}/${user.id}`).header('etag', entityTag(user.version)).send(user);
  });

  app.get<{ Params: IdParams }>('/users/:id', async (request, reply) => {
    const user = await users.get(request.params.id);
    return reply.header('etag', entityTag(user.version)).send(user);
  });

  app.patch<{ Params: IdParams }>('/users/:id', async (request, reply) => {
    const user = await users.update(request.params.id, request.body, auditContext(request), preconditionOf(request));
    return reply.header('etag', entityTag(user.version)).send(user);
  });

  app.post<{ Params: IdParams }>('/users/:id/unlock', async (request) => users.unlock(request.params.id, auditContext(request)));

  app.delete<{ Params: IdParams }>('/users/:id', async (request, reply) => {
    await users.delete(request.params.id, auditContext(request), preconditionOf(request));
    return reply.code(204).send();
  });
}
