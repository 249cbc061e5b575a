import argon2 from 'argon2';

/**
 * argon2id parameters for passwords (OWASP's 19 MiB, t=2, p=1 profile); client secrets issued before
 * digests were hashed with them too. Verification reads the parameters from each stored hash, so
 * raising them later keeps old hashes valid.
 */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashSecret(plain: string): Promise<string> {
  return argon2.hash(plain, OPTIONS);
}

export async function verifySecret(hash: string, plain: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, plain);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the time of one verification against a hash nobody knows the secret for, so that an unknown
 * user or client answers as slowly as a known one with a wrong secret.
 */
export async function verifyDummy(plain: string): Promise<false> {
  dummyHash ??= argon2.hash('keyhold-timing-equaliser', OPTIONS);
  await verifySecret(await dummyHash, plain);
  return false;
}
