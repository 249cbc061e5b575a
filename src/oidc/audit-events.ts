import type { IncomingMessage } from 'node:http';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditTrail } from '../audit.ts';

/**
 * The provider's own events that belong in the audit trail: logouts, and (with AUDIT_TOKEN_EVENTS,
 * since it costs a write per grant) every token issuance by grant type, client and subject. Queued and
 * written in batches, off the request path.
 */
export function auditProviderEvents(
  provider: Provider,
  audit: Pick<AuditTrail, 'later'>,
  { tokenEvents, addressOf }: { tokenEvents: boolean; addressOf: (request: IncomingMessage) => string },
): void {
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    const clientId = ctx.oidc.client?.clientId ?? null;
    audit.later({
      type: 'logout',
      actor: ctx.oidc.session?.accountId ? { kind: 'user', id: ctx.oidc.session.accountId } : { kind: 'anonymous' },
      clientId,
      userId: ctx.oidc.session?.accountId ?? null,
      address: addressOf(ctx.req),
      outcome: 'success',
      details: { everywhere: ctx.oidc.params?.['logout'] === 'yes' },
    });
  });

  if (!tokenEvents) return;
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const entities = ctx.oidc.entities as { AccessToken?: { accountId?: string }; ClientCredentials?: unknown };
    const clientId = ctx.oidc.client?.clientId ?? null;
    const userId = entities.AccessToken?.accountId ?? null;
    audit.later({
      type: 'token.issued',
      actor: clientId ? { kind: 'client', id: clientId } : { kind: 'anonymous' },
      clientId,
      userId,
      address: addressOf(ctx.req),
      outcome: 'success',
      details: { grantType: String(ctx.oidc.params?.['grant_type'] ?? '') },
    });
  });
}
