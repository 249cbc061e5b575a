import { componentSchemas, type Json } from './openapi-schemas.ts';
import { paths, RESPONSES } from './openapi-paths.ts';

/**
 * The admin API's OpenAPI 3.1 document, generated: request bodies and query strings from the zod
 * schemas the services validate with, answers from the zod schemas of openapi-schemas.ts (which mirror
 * the services' views); paths and answers by status in openapi-paths.ts. Served at
 * GET /api/v1/openapi.json; docs/openapi.json is a copy (`npm run openapi`).
 * Rules zod checks in code (refinements: URL rules, dates in the future, cursors) are not in the
 * schemas: the API answers 400 with every broken rule in `errors`.
 */

const DESCRIPTION = `Manage Keyhold's clients, their secrets and users, and read the audit trail.

Authenticate with a bearer access token issued by this Keyhold: a client-credentials client holding the admin role asks the token endpoint for the \`admin\` scope, or an administrator signs in to the admin console. Bodies are JSON only (application/json); every error is RFC 9457 problem+json. Lists are pages: pass \`nextCursor\` as \`cursor\` until it is null. Clients and users come with their version as an ETag; send it back as If-Match to change or delete them only if no one else did meanwhile (412 otherwise). See docs/admin-api.md.`;

/** The OpenAPI 3.1 document of the admin API; the same on every instance (no host in it). */
export function openApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: { title: 'Keyhold admin API', version: '1', description: DESCRIPTION },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    tags: [
      { name: 'clients', description: 'OpenID Connect and OAuth 2.0 clients' },
      { name: 'secrets', description: 'Client secrets' },
      { name: 'users', description: 'Users' },
      { name: 'audit', description: 'The audit trail' },
      { name: 'meta', description: 'This document' },
    ],
    paths: {
      '/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          summary: 'This document (no token needed)',
          tags: ['meta'],
          security: [],
          responses: { '200': { description: 'The OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
      ...paths(),
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An access token with the admin scope, of an administrator (console) or an admin client (client credentials)' },
      },
      schemas: componentSchemas(),
      responses: RESPONSES,
    },
  };
}

/** The document as served and as committed in docs/openapi.json (with a final newline). */
export function openApiText(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}

export const OPENAPI_PATH = '/openapi.json';
