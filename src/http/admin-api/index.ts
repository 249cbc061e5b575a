import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { notFound, ProblemError, sendProblem } from '../../errors.ts';
import type { ClientCache } from '../../oidc/client-cache.ts';
import type { UsersRepo } from '../../repos/users.ts';
import type { ClientsService } from '../../services/clients.ts';
import type { AuditTrail } from '../../audit.ts';
import { createAuditEventsService } from '../../services/audit-events.ts';
import type { UsersService } from '../../services/users.ts';
import { BearerError, createAdminAuth } from './auth.ts';
import { clientRoutes } from './clients.ts';
import { userRoutes } from './users.ts';
import { OPENAPI_PATH, openApiText } from './openapi.ts';

export interface AdminApiDeps {
  provider: Provider;
  /** Read fresh on every request to authorize the caller. */
  /** The instance's client cache, for the bearer check. */
  clientCache: Pick<ClientCache, 'find'>;
  usersRepo: UsersRepo;
  clients: ClientsService;
  users: UsersService;
  audit: Pick<AuditTrail, 'list'>;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

const unsupportedMediaType = () =>
  new ProblemError(415, 'unsupported-media-type', 'Unsupported media type', 'send the body as application/json');

/**
 * The admin API v1 (register with prefix /api/v1). Every request needs a bearer token of an admin;
 * bodies are JSON only, validated by zod in the services (never by Fastify's Ajv, which would coerce
 * types and drop unknown fields); every error is RFC 9457 problem+json.
 */
export async function adminApi(app: FastifyInstance, deps: AdminApiDeps) {
  const authenticate = createAdminAuth({ provider: deps.provider, clients: deps.clientCache, users: deps.usersRepo });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof BearerError) reply.header('www-authenticate', err.challenge);
    return sendProblem(err, request, reply);
  });
  // The onRequest hook below runs for this handler too: an unknown path is authenticated once, like any other.
  app.setNotFoundHandler(async (request, reply) => {
    return sendProblem(notFound(`there is no ${request.method} ${request.url.split('?')[0]} in the admin API`), request, reply);
  });

  // The API's own description is public, and the same for everyone: the one route without a token.
  const openApiRoute = `${app.prefix}${OPENAPI_PATH}`;
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url === openApiRoute) return;
    // Answers carry client and user data, and secret values once: never cache them.
    reply.header('cache-control', 'no-store');
    request.admin = await authenticate(request);
  });
  app.addHook('preParsing', async (request) => {
    if (!WRITE_METHODS.has(request.method) || !hasBody(request)) return;
    const mediaType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') throw unsupportedMediaType();
  });
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== 'GET' && request.admin && reply.statusCode < 400) {
      request.log.info({ admin: request.admin, method: request.method, path: request.url.split('?')[0], status: reply.statusCode }, 'admin API change');
    }
  });

  await app.register(clientRoutes, { clients: deps.clients });
  await app.register(userRoutes, { users: deps.users });
  const auditEvents = createAuditEventsService({ audit: deps.audit });
  app.get('/audit-events', async (request) => auditEvents.list(request.query));

  const openApi = openApiText();
  app.get(OPENAPI_PATH, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').type('application/json; charset=utf-8').send(openApi),
  );
}
