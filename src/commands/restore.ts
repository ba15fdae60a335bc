import { resolve } from 'node:path';
import { CancelledError, UsageError } from '../errors.js';
import type { Invocation } from '../invocation.js';
import { restoreStore } from '../services/backup.js';
import { openSession } from './session.js';
import { arg, boolOpt } from './options.js';

export async function run(inv: Invocation): Promise<void> {
  const file = resolve(arg(inv, 0));
  const yes = boolOpt(inv, 'yes') === true;
  if (!yes && !inv.ctx.io.stdinIsTTY) throw new UsageError('restore replaces every user, realm and factor in the store: confirm with --yes', 'confirm');
  const session = await openSession(inv, { op: 'store.whole', action: 'store.restore' });
  if (!yes && !(await inv.ctx.prompter.confirm(`Replace the whole store with ${file}?`, false))) throw new CancelledError();
  const result = await restoreStore(session, file);
  inv.out.result(result, (r, style) => `${style.green('restored')} the store from ${r.file} (${r.users} users)`);
}
