import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Provider, { errors } from 'oidc-provider';
import t from 'tap';
import { installClientSecretCheck } from '../../src/oidc/engine/client-secret-check.ts';
import { IMPLICIT_LOCALHOST_CODE, installHybridLocalhost } from '../../src/oidc/engine/hybrid-localhost.ts';
import { EngineInternalMovedError } from '../../src/oidc/engine/internal-moved.ts';
import { installLiveKeystore } from '../../src/oidc/engine/keystore.ts';
import { installOfflineAccessConsent } from '../../src/oidc/engine/offline-access-consent.ts';
import type { PrivateJwk } from '../../src/repos/keys.ts';

/**
 * The oidc-provider internals Keyhold adapts (src/oidc/engine/*): each is still where its module
 * expects it in the installed engine, each install changes what it claims to, and each refuses to start
 * (EngineInternalMovedError) on an engine where the internal is gone. An engine upgrade that moves one
 * fails here first.
 *
 * Behaviour over real HTTP is covered elsewhere: a refresh token for `openid offline_access` without
 * prompt=consent in test/flow/tokens.test.ts ("refresh tokens: offline_access on a client that allows
 * them, no prompt=consent needed"), an https://localhost redirect URL of a hybrid client in
 * test/flow/authorization.test.ts, and client secrets at the token endpoint in
 * test/oidc/client-secrets.test.ts; keys rotating in running instances in test/oidc/key-rotation.test.ts.
 */

const ISSUER = 'http://localhost:3000';
/** A fresh engine: each Provider has its own Client class and OIDCContext, so installs do not leak between tests. */
const engine = () => new Provider(ISSUER, {});
/** A stand-in for an engine whose internals moved. */
const fake = (shape: object) => shape as unknown as Provider;

type Verify = (clientId: string, presented: string) => Promise<boolean>;
type Compare = (this: unknown, presented: unknown) => Promise<boolean>;

t.test('client-secret-check: Client.prototype.compareClientSecret', async (t) => {
  const provider = engine();
  const prototype = provider.Client.prototype as unknown as { compareClientSecret: Compare };
  t.equal(typeof prototype.compareClientSecret, 'function', 'the engine compares client secrets in Client.prototype.compareClientSecret');
  const engineOwn = prototype.compareClientSecret;

  const calls: Array<[string, string]> = [];
  const verify: Verify = async (clientId, presented) => {
    calls.push([clientId, presented]);
    return presented === 'right';
  };
  installClientSecretCheck(provider, verify);
  t.not(prototype.compareClientSecret, engineOwn, 'the comparison is replaced');
  t.equal(await prototype.compareClientSecret.call({ clientId: 'c1', clientSecret: 'right-but-placeholder' }, 'right'), true, 'the verifier decides');
  t.equal(await prototype.compareClientSecret.call({ clientId: 'c1', clientSecret: 'wrong' }, 'wrong'), false, "the metadata's own client_secret never authenticates");
  t.equal(await prototype.compareClientSecret.call({ clientId: 'c2' }, 42), false, 'a value that is not a string is refused');
  t.same(calls, [['c1', 'right'], ['c1', 'wrong']], 'called with the client id and the presented value; never for a non-string');

  for (const [what, shape] of [
    ['no compareClientSecret', { Client: { prototype: {} } }],
    ['compareClientSecret is not a function', { Client: { prototype: { compareClientSecret: 'moved' } } }],
  ] as const) {
    t.throws(() => installClientSecretCheck(fake(shape), verify), EngineInternalMovedError, `refuses an engine with ${what}`);
  }
  t.match(
    (() => {
      try {
        installClientSecretCheck(fake({ Client: { prototype: {} } }), verify);
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })(),
    /Client\.prototype\.compareClientSecret.*client-secret-check\.ts/,
    'the error names the internal and the module that adapts it',
  );
});

t.test('offline-access-consent: the OIDCContext.prototype.prompts getter', async (t) => {
  const provider = engine();
  const contextPrototype = (provider as unknown as { OIDCContext: { prototype: object } }).OIDCContext.prototype;
  const engineOwn = Object.getOwnPropertyDescriptor(contextPrototype, 'prompts');
  t.equal(typeof engineOwn?.get, 'function', 'the engine reads the requested prompts from an OIDCContext.prototype.prompts getter');
  const prompts = (params: Record<string, string>) =>
    [...(Object.getOwnPropertyDescriptor(contextPrototype, 'prompts')!.get!.call({ params }) as Set<string>)].sort();

  t.same(prompts({ scope: 'openid offline_access' }), [], 'before the install, offline_access alone prompts for nothing');
  installOfflineAccessConsent(provider);
  t.same(prompts({ scope: 'openid offline_access' }), ['consent'], 'offline_access counts as prompting for consent');
  t.same(prompts({ scope: 'openid offline_access', prompt: 'login' }), ['consent', 'login'], 'alongside other prompts');
  t.same(prompts({ scope: 'openid offline_access', prompt: 'none' }), ['none'], 'prompt=none stays alone');
  t.same(prompts({ scope: 'openid profile' }), [], 'no offline_access: nothing added');
  t.same(prompts({ scope: 'openid offline_accessory' }), [], 'only the exact scope counts');

  for (const [what, shape] of [
    ['no OIDCContext', {}],
    ['no prompts on its prototype', { OIDCContext: { prototype: {} } }],
    ['prompts as a plain value', { OIDCContext: { prototype: { prompts: new Set<string>() } } }],
  ] as const) {
    t.throws(() => installOfflineAccessConsent(fake(shape)), EngineInternalMovedError, `refuses an engine with ${what}`);
  }
});

t.test('hybrid-localhost: Client.Schema.prototype.invalidate and its implicit-forbid-localhost code', async (t) => {
  const clientSchema = join(dirname(createRequire(import.meta.url).resolve('oidc-provider')), 'helpers', 'client_schema.js');
  const source = await readFile(clientSchema, 'utf8');
  t.ok(source.includes(`'${IMPLICIT_LOCALHOST_CODE}'`), `the engine still raises '${IMPLICIT_LOCALHOST_CODE}' (lib/helpers/client_schema.js)`);

  const provider = engine();
  const schema = (provider.Client as unknown as { Schema: { prototype: { invalidate: unknown } } }).Schema;
  t.equal(typeof schema.prototype.invalidate, 'function', 'client metadata is refused through Client.Schema.prototype.invalidate');

  const hybrid = (redirectUri: string) => ({
    client_id: 'hybrid',
    client_secret: 'placeholder-placeholder-placeholder',
    application_type: 'web',
    redirect_uris: [redirectUri],
    response_types: ['code id_token', 'code'],
    grant_types: ['authorization_code', 'implicit'],
  });
  const validate = (metadata: object) => (provider.Client as unknown as { validate: (m: object) => Promise<void> }).validate(metadata);

  const refusal = async (metadata: object): Promise<string | undefined> => {
    try {
      await validate(metadata);
      return undefined;
    } catch (err) {
      t.type(err, errors.InvalidClientMetadata);
      return String((err as { error_description?: unknown }).error_description);
    }
  };

  t.match(await refusal(hybrid('https://localhost:8443/cb')), /must not be using localhost/, 'before the install, the engine refuses https://localhost for a hybrid web client');
  installHybridLocalhost(provider);
  t.equal(await refusal(hybrid('https://localhost:8443/cb')), undefined, 'after it, https://localhost is accepted');
  t.equal(await refusal(hybrid('https://app.example.com/cb')), undefined, 'as are other https URLs');
  t.match(await refusal(hybrid('http://app.example.com/cb')), /https scheme/, 'other rules of implicit web clients still hold (https only)');
  t.type(await refusal(hybrid('not a url')), 'string', 'and invalid URLs are still refused');

  for (const [what, shape] of [
    ['no Client.Schema', { Client: {} }],
    ['no invalidate on the schema', { Client: { Schema: { prototype: {} } } }],
  ] as const) {
    t.throws(() => installHybridLocalhost(fake(shape)), EngineInternalMovedError, `refuses an engine with ${what}`);
  }
});

t.test('keystore: the provider keystore and published JWKS, replaced in place', async (t) => {
  const lib = dirname(createRequire(import.meta.url).resolve('oidc-provider'));
  const idToken = await readFile(join(lib, 'models', 'id_token.js'), 'utf8');
  t.ok(idToken.includes('instance(provider).keystore.selectForSign('), 'ID tokens are signed with a key the engine selects from its keystore when it signs (lib/models/id_token.js)');
  t.ok(idToken.includes('keyOrStore = instance(provider).keystore;'), 'and id_token_hints are verified against it when they come (the same file)');
  const jwksAction = await readFile(join(lib, 'actions', 'jwks.js'), 'utf8');
  t.ok(jwksAction.includes('instance(ctx.oidc.provider).jwks'), 'the JWKS served is read per request (lib/actions/jwks.js)');

  const jwk = (alg: 'RS256' | 'ES256'): PrivateJwk => {
    const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { ...pair.privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
  };
  const [first, retiring, active, pending, es] = [jwk('RS256'), jwk('RS256'), jwk('RS256'), jwk('RS256'), jwk('ES256')];
  const provider = new Provider(ISSUER, { jwks: { keys: [first, es] as never } });
  const server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const published = async () => {
    const body = (await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
    return body.keys;
  };
  t.same((await published()).map((k) => k.kid), [first.kid, es.kid], 'before: the keys given at construction');

  const live = installLiveKeystore(provider);
  live.replace({ published: [pending, retiring, active, es], signing: [active.kid, es.kid] });
  const keys = await published();
  t.same(keys.map((k) => k.kid), [active.kid, es.kid, pending.kid, retiring.kid], 'the JWKS serves the new set at once, the signing keys first');
  t.notOk(keys.some((k) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].some((part) => part in k)), 'public parts only');
  t.same(keys[0], { kty: 'RSA', use: 'sig', kid: active.kid, alg: 'RS256', e: active.e, n: active.n });

  const keystore = (createRequire(import.meta.url)('oidc-provider/lib/helpers/weak_cache.js') as { default: (p: Provider) => { keystore: { selectForSign(o: object): Array<{ kid: string }>; selectForVerify(o: object): Array<{ kid: string }> } } }).default(provider).keystore;
  t.same(keystore.selectForSign({ alg: 'RS256', use: 'sig' }).map((k) => k.kid), [active.kid], 'only the active key of an algorithm is offered for signing');
  t.same(keystore.selectForSign({ alg: 'ES256', use: 'sig' }).map((k) => k.kid), [es.kid]);
  for (const key of [pending, retiring]) {
    t.same(keystore.selectForVerify({ alg: 'RS256', kid: key.kid }).map((k) => k.kid), [key.kid], 'a published key that does not sign still verifies');
  }
  t.same(keystore.selectForVerify({ alg: 'RS256', kid: first.kid }), [], 'a key no longer published no longer verifies');

  live.replace({ published: [retiring, es], signing: [es.kid] });
  t.same(keystore.selectForSign({ alg: 'RS256', use: 'sig' }), [], 'with no active RS256 key nothing signs RS256 (rather than a key that must not)');

  for (const [what, shape] of [
    ['an object that is not a provider', {}],
    ['a provider-like object without internals', { Client: { prototype: {} } }],
  ] as const) {
    t.throws(() => installLiveKeystore(fake(shape)), EngineInternalMovedError, `refuses ${what}`);
  }
});
