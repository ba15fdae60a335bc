/**
 * Password hashing with argon2id. The parameters travel inside each hash, so a hash made with older
 * parameters still verifies and is replaced on the next successful sign-in. argon2 is loaded only
 * when a password is hashed or checked.
 */
import { passwordHashProblem } from '../domain/password-hash.js';

export const ARGON2_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const load = async () => await import('argon2');

export async function hashPassword(password: string): Promise<string> {
  const argon2 = await load();
  return argon2.hash(password, { type: argon2.argon2id, ...ARGON2_PARAMS });
}

export type PasswordCheck = { readonly ok: true; readonly rehash: string | null } | { readonly ok: false };

/**
 * Checks a password against a stored hash. With no hash (no such user, or no password set) it does
 * the same amount of work and fails, so timing does not tell whether the user exists.
 * On success `rehash` holds a new hash when the stored one used other parameters.
 */
export async function checkPassword(hash: string | null | undefined, password: string): Promise<PasswordCheck> {
  const argon2 = await load();
  // No hash, or one whose parameters would cost more than any tfactl ever wrote (a doctored
  // store): the same work as a real check, and a failure.
  if (!hash || passwordHashProblem(hash) !== null) {
    await argon2.hash(password, { type: argon2.argon2id, ...ARGON2_PARAMS });
    return { ok: false };
  }
  let ok: boolean;
  try {
    const verifying = argon2.verify(hash, password);
    // argon2 now works on the thread pool for tens of milliseconds; meanwhile the main thread loads
    // node:crypto, which the comparison at the end of verify needs (the build makes it lazy).
    process.getBuiltinModule('node:crypto');
    ok = await verifying;
  } catch {
    ok = false;
  }
  if (!ok) return { ok: false };
  const rehash = argon2.needsRehash(hash, { ...ARGON2_PARAMS }) ? await hashPassword(password) : null;
  return { ok: true, rehash };
}
