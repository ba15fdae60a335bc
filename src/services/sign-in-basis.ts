import { createHash } from 'node:crypto';
import type { Store, UserRecord } from '../store/types.js';

/**
 * What a sign-in checked of its account: the user as made then (`created`: a user deleted and made
 * again under the id is another account), and the password hash it verified (a fingerprint; absent
 * where no password was checked, as for PAM after an SSH key). A command, a challenge or a kept
 * session is held to it: the account made anew or given a new password meanwhile ends them.
 */
export interface SignInBasis {
  readonly created: number;
  readonly password?: string;
}

/** The fingerprint of a password hash in a SignInBasis (the hash itself is never copied around). */
export function passwordFingerprint(hash: string | null | undefined): string {
  return hash === null || hash === undefined ? 'none' : createHash('sha256').update(hash).digest('hex');
}

/** Whether `userid` is still the account `basis` signed in: the same user, the same password. */
export async function basisHolds(store: Store, userid: string, basis: SignInBasis, user?: UserRecord): Promise<boolean> {
  const now = user ?? (await store.getUser(userid));
  if (!now || now.created !== basis.created) return false;
  return basis.password === undefined || passwordFingerprint(await store.getPasswordHash(userid)) === basis.password;
}

