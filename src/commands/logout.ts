import { parseUserId } from '../domain/userid.js';
import type { Invocation } from '../invocation.js';
import { endSession } from '../services/sessions.js';
import { openStore, storePath } from './session.js';
import { readTicket, removeTicket, ticketDir, ticketPath, ticketsOf } from './tickets.js';

/**
 * `logout [USERID]`: ends the sessions kept here (login --session) for this store: the one of
 * USERID, or every one. Whoever holds a ticket file may end its session.
 */
export async function run(inv: Invocation): Promise<void> {
  const given = inv.args[0];
  const userid = given === undefined ? undefined : parseUserId(given).id;
  const dir = ticketDir(inv);
  const path = storePath(inv);
  const tickets = dir === null ? [] : userid === undefined ? ticketsOf(dir, path) : [{ userid, path: ticketPath(dir, path, userid) }];
  const ended: string[] = [];
  const held = tickets.map((t) => ({ ...t, secret: readTicket(t.path) })).filter((t) => t.secret !== null);
  if (held.length > 0) {
    const { store } = await openStore(inv);
    for (const t of held) {
      await endSession(store, t.secret as string);
      removeTicket(t.path);
      ended.push(t.userid);
    }
  }
  inv.out.result({ ended }, (r) => (r.ended.length === 0 ? 'no session kept here' : `ended the session${r.ended.length === 1 ? '' : 's'} of ${r.ended.join(', ')}`));
}
