import { NotFoundError } from '../errors.js';
import type { RealmRecord, Store, UserRecord } from '../store/types.js';

/** The user, or NotFoundError (exit 3). */
export async function requireUser(store: Store, userid: string): Promise<UserRecord> {
  const user = await store.getUser(userid);
  if (!user) throw new NotFoundError(`user ${userid} does not exist`);
  return user;
}

/**
 * The realm, or NotFoundError (exit 3) with a hint: for adding it where something is to go into
 * it (`adding`), else for the realms there are.
 */
export async function requireRealm(store: Store, name: string, { adding = false } = {}): Promise<RealmRecord> {
  const realm = await store.getRealm(name);
  if (!realm) throw new NotFoundError(`realm ${name} does not exist: ${adding ? `add it with 'tfactl realm add ${name}'` : "'tfactl realm list' shows those there are"}`);
  return realm;
}
