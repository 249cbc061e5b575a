import type Provider from 'oidc-provider';
import { EngineInternalMovedError } from './internal-moved.ts';

/**
 * OIDC asks `offline_access` to come with `prompt=consent`, and oidc-provider drops it otherwise
 * (its authorization `checkScope` step reads `ctx.oidc.prompts`); no public option changes that.
 * Keyhold has no consent screen (clients are the administrator's own apps, and the consent prompt
 * resolves without interaction), so a request for `offline_access` counts as prompting for consent,
 * however it arrives (query, form post, pushed request): a refresh token needs only `offline_access`
 * and a client that allows it. `prompt=none` stays alone, as OIDC requires; a silent request then gets
 * no refresh token.
 */
export function installOfflineAccessConsent(provider: Provider): void {
  const contextPrototype = (provider as unknown as { OIDCContext?: { prototype: object } }).OIDCContext?.prototype;
  const descriptor = contextPrototype ? Object.getOwnPropertyDescriptor(contextPrototype, 'prompts') : undefined;
  if (!contextPrototype || !descriptor?.get) throw new EngineInternalMovedError('OIDCContext.prototype.prompts getter', 'offline-access-consent.ts');
  const requestedPrompts = descriptor.get;
  Object.defineProperty(contextPrototype, 'prompts', {
    configurable: true,
    get(this: { params?: { scope?: unknown } }) {
      const prompts = requestedPrompts.call(this) as Set<string>;
      const scope = this.params?.scope;
      if (typeof scope === 'string' && scope.split(' ').includes('offline_access') && !prompts.has('none')) prompts.add('consent');
      return prompts;
    },
  });
}
