import type { FastifyInstance } from 'fastify';
import type { UsersService } from '../../services/users.ts';
import { auditContext } from './auth.ts';

type IdParams = { id: string };

/** /users: thin; every rule lives in the users service. */
export async function userRoutes(app: FastifyInstance, { users }: { users: UsersService }) {
  app.get('/users', async (request) => users.list(request.query));

  app.post('/users', async (request, reply) => {
    const user = await users.create(request.body, auditContext(request));
    return reply.code(201).header('location', `${request.routeOptions.url}/${user.id}`).send(user);
  });

  app.get<{ Params: IdParams }>('/users/:id', async (request) => users.get(request.params.id));

  app.patch<{ Params: IdParams }>('/users/:id', async (request) => users.update(request.params.id, request.body, auditContext(request)));

  app.post<{ Params: IdParams }>('/users/:id/unlock', async (request) => users.unlock(request.params.id, auditContext(request)));

  app.delete<{ Params: IdParams }>('/users/:id', async (request, reply) => {
    await users.delete(request.params.id, auditContext(request));
    return reply.code(204).send();
  });
}
