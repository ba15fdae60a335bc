import { resolve } from 'node:path';
import type { Invocation } from '../invocation.js';
import { restoreStore } from '../services/backup.js';
import { openSession } from './session.js';
import { confirm, requireConfirmation } from './confirm.js';
import { arg } from './options.js';

export async function run(inv: Invocation): Promise<void> {
  const file = resolve(arg(inv, 0));
  requireConfirmation(inv, 'restore replaces every user, realm and factor in the store');
  const session = await openSession(inv, { op: 'store.whole', action: 'store.restore' });
  await confirm(inv, `Replace the whole store with ${file}?`);
  const result = await restoreStore(session, file);
  inv.out.result(result, (r, style) => `${style.green('restored')} the store from ${r.file} (${r.users} users)`);
}
