import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A file Keyhold serves as it is (the console's modules, the brand's logo), read once at start. */
export interface StaticFile {
  body: Buffer;
  type: string;
  /** A strong entity tag of the contents: changes when, and only when, the file does. */
  etag: string;
}

export function staticFile(body: Buffer, type: string): StaticFile {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** Sends `file` with its ETag, or a bodiless 304 when the browser's copy (If-None-Match) is current. */
export function sendStatic(request: FastifyRequest, reply: FastifyReply, file: StaticFile) {
  reply.header('etag', file.etag).type(file.type);
  if (request.headers['if-none-match']?.split(',').some((tag) => tag.trim() === file.etag)) return reply.code(304).send();
  return reply.send(file.body);
}
