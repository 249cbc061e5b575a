import accepts from 'accepts';
import type { FastifyInstance } from 'fastify';
import { notFound, sendProblem } from '../errors.ts';
import { chooseLocale } from '../pages/i18n.ts';
import { LOGO_PATH, pagePolicy, type Pages } from '../pages/views.ts';
import { sendStatic, staticFile } from './static-file.ts';

/**
 * What the root instance serves of the end users' pages: the brand's logo, and the answer to an address
 * nothing serves (a page for browsers, problem+json for everything else).
 */
export function registerPages(app: FastifyInstance, { pages, issuer }: { pages: Pages; issuer: string }): void {
  const logo = pages.brand.logo && staticFile(pages.brand.logo.body, pages.brand.logo.type);
  app.get(LOGO_PATH, async (request, reply) => {
    if (!logo) return sendProblem(notFound('no logo is configured (BRAND_LOGO)'), request, reply);
    // An SVG opened on its own runs no script and loads nothing.
    reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").header('cache-control', 'public, max-age=3600, must-revalidate');
    return sendStatic(request, reply, logo);
  });

  app.setNotFoundHandler(async (request, reply) => {
    // Negotiated as the provider's own 404 is (Koa's accepts): HTML only when preferred to JSON.
    if (request.method === 'GET' && accepts(request.raw).type(['json', 'html']) === 'html') {
      const locale = chooseLocale(undefined, request.headers['accept-language']);
      return reply
        .code(404)
        .header('cache-control', 'no-store')
        .header('content-security-policy', pagePolicy(issuer))
        .type('text/html; charset=utf-8')
        .send(pages.message(locale, { title: pages.t(locale, 'error.not_found.title'), text: pages.t(locale, 'error.not_found.body') }));
    }
    return sendProblem(notFound(`there is no ${request.method} ${request.url.split('?')[0]}`), request, reply);
  });
}
