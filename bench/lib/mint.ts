import type Provider from 'oidc-provider';
import type { MintRequest } from './protocol.ts';

/** How many saves are in flight at once while minting (Keyhold's pool has 10 connections). */
const MINT_CONCURRENCY = 16;

/**
 * Issues codes or tokens through oidc-provider's public model API, as the authorization and token
 * endpoints would: one grant per value (every sign-in has its own), then the code or token bound to
 * it. Works the same on Keyhold (rows in Postgres) and on the bare engine (its memory adapter).
 */
export async function mint(provider: Provider, request: MintRequest): Promise<string[]> {
  const client = await provider.Client.find(request.clientId);
  if (!client) throw new Error(`the provider does not know client ${request.clientId}`);
  if (request.accountIds.length === 0) throw new Error('minting needs at least one account');
  const values = new Array<string>(request.count);
  const authTime = Math.floor(Date.now() / 1000);
  let next = 0;

  const one = async (i: number): Promise<string> => {
    const accountId = request.accountIds[i % request.accountIds.length]!;
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope(request.scope);
    const grantId = await grant.save();
    const bound = { client, accountId, grantId, scope: request.scope, gty: 'authorization_code' };
    switch (request.kind) {
      case 'code':
        return new provider.AuthorizationCode({
          ...bound,
          authTime,
          redirectUri: request.redirectUri,
          codeChallenge: request.codeChallenge,
          codeChallengeMethod: 'S256',
        }).save();
      case 'refresh':
        return new provider.RefreshToken({ ...bound, authTime, rotations: 0 }).save();
      case 'access':
        return new provider.AccessToken(bound).save();
    }
  };

  await Promise.all(
    Array.from({ length: Math.min(MINT_CONCURRENCY, request.count) }, async () => {
      for (let i = next++; i < request.count; i = next++) values[i] = await one(i);
    }),
  );
  return values;
}
