import { resolve } from 'node:path';
import type { Invocation } from '../invocation.js';
import { backupStore } from '../services/backup.js';
import { openSession } from './session.js';
import { arg, namedFile } from './options.js';

export async function run(inv: Invocation): Promise<void> {
  const file = resolve(namedFile(arg(inv, 0), 'backup'));
  const session = await openSession(inv, { op: 'store.whole', action: 'store.backup' });
  const result = await backupStore(session, file);
  inv.out.warn(`the backup's secrets are encrypted with ${result.keyFile}: keep a copy of that key file with the backup, or the secrets are lost`);
  inv.out.result(result, (r, style) => `${style.green('backed up')} the store to ${r.file}`);
}
