import { parseUserId } from '../domain/userid.js';
import type { Invocation } from '../invocation.js';
import { endSession } from '../services/sessions.js';
import { openStore, storePath } from './session.js';
import { ticketBox } from './tickets.js';

/**
 * `logout [USERID]`: ends the sessions kept here (login --session) for this store: the one of
 * USERID, or every one. Whoever holds a ticket file may end its session.
 */
export async function run(inv: Invocation): Promise<void> {
  const given = inv.args[0];
  const userid = given === undefined ? undefined : parseUserId(given).id;
  const box = ticketBox(inv, storePath(inv));
  const users = box === null ? [] : userid === undefined ? await box.list() : [userid];
  const ended: string[] = [];
  const held: { userid: string; secret: string }[] = [];
  for (const u of users) {
    const secret = await box?.read(u);
    if (secret) held.push({ userid: u, secret });
  }
  if (box !== null && held.length > 0) {
    // A store that cannot be opened (gone, or only moved away for now) ends no session: said
    // (exit 6), the tickets kept, as through a service that is down.
    const { store } = await openStore(inv);
    for (const t of held) {
      await endSession(store, t.secret);
      await box.remove(t.userid);
      ended.push(t.userid);
    }
  }
  inv.out.result({ ended }, (r) => (r.ended.length === 0 ? 'no session kept here' : `ended the session${r.ended.length === 1 ? '' : 's'} of ${r.ended.join(', ')}`));
}
