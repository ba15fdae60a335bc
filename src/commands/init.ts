import { displayStoreLocation } from '../domain/store-location.js';
import type { Invocation } from '../invocation.js';
import { ensureKeyFile } from '../services/session.js';
import { openStore } from './session.js';

/** Creates the store and its key file when missing; says where they are. Safe to run again. */
export async function run(inv: Invocation): Promise<void> {
  const { store, path, keyPath, created, keyCreated } = await openStore(inv, { creates: true });
  const key = created ? { created: keyCreated } : await ensureKeyFile(inv.ctx.random, store, keyPath);
  inv.out.result({ store: displayStoreLocation(path), keyFile: keyPath, created, keyCreated: key.created }, (r, style) =>
    [
      `${r.created ? style.green('created') : 'using'} store ${r.store}`,
      `${r.keyCreated ? style.green('created') : 'using'} key file ${r.keyFile} (keep it with every backup of the store)`,
    ].join('\n'),
  );
}
