import { NotFoundError, UserNotFoundError } from '../errors.js';
import type { RealmRecord, Store, UserRecord } from '../store/types.js';
import { nearest } from '../domain/near.js';
import { realmPassedFor } from '../domain/userid.js';

/**
 * The user, or NotFoundError (exit 3), naming the users of that name in other realms (a realm left
 * out means `local`). Whoever gets here was allowed to look the user up (authorize comes first).
 */
export async function requireUser(store: Store, userid: string): Promise<UserRecord> {
  const user = await store.getUser(userid);
  if (user) return user;
  throw await userMissing(store, userid);
}

/** That `userid` does not exist, naming the users of its name in other realms. */
export async function userMissing(store: Store, userid: string): Promise<UserNotFoundError> {
  const elsewhere = await store.useridsNamed(userid.slice(0, userid.lastIndexOf('@')), 4);
  const hint = elsewhere.length === 0 ? '' : ` (there ${elsewhere.length === 1 ? 'is' : 'are'} ${elsewhere.length > 3 ? `${elsewhere.slice(0, 3).join(', ')}, …` : elsewhere.join(', ')}: is the realm right?)`;
  return new UserNotFoundError(userid, hint);
}

/**
 * The realm, or NotFoundError (exit 3) with a hint: for adding it where something is to go into
 * it (`adding`), else for the realms there are.
 */
export async function requireRealm(store: Store, name: string, { adding = false } = {}): Promise<RealmRecord> {
  const realm = await store.getRealm(name);
  if (realm) return realm;
  throw await realmMissing(store, name, adding);
}

/** That realm `name` does not exist, naming the realm a typo missed. For those who may list realms. */
export async function realmMissing(store: Store, name: string, adding = false): Promise<NotFoundError> {
  // A typo (crop for corp) is told the realm it missed; one that would pass for a realm (corp_)
  // could not be added anyway, so adding it is not suggested.
  const names = (await store.listRealms()).map((r) => r.name);
  const like = realmPassedFor(name, names);
  if (like !== null) return new NotFoundError(`realm ${name} does not exist (did you mean ${like}?)`);
  const near = nearest(name, names);
  const fix = adding ? `add it with 'tfactl realm add ${name}'` : "'tfactl realm list' shows those there are";
  return new NotFoundError(`realm ${name} does not exist${near === undefined ? '' : ` (did you mean ${near}?)`}: ${fix}`);
}
