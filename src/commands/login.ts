import type { CodeKind } from '../domain/second-factor.js';
import { parseUserId } from '../domain/userid.js';
import type { Invocation } from '../invocation.js';
import { authenticate } from '../services/authenticate.js';
import { secretKeyLoader } from '../services/session.js';
import { commandCredentials } from './credentials.js';
import { requireSecretInput, stringOpt } from './options.js';
import { authDeps, openStore } from './session.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(inv.args[0] ?? '').id;
  // commander has checked --type against its choices (cli.ts).
  const kind = stringOpt(inv, 'type') as CodeKind | undefined;
  requireSecretInput(inv, `the password of ${userid}`);

  const { out } = inv;
  const { store, keyPath } = await openStore(inv);
  const signedIn = await authenticate(
    authDeps(inv, store, secretKeyLoader(store, keyPath), userid),
    { userid, action: 'login', credentials: commandCredentials(inv, userid, { flag: '--code', value: stringOpt(inv, 'code'), kind }) },
  );
  for (const w of signedIn.warnings) out.warn(w);
  out.result({ userid, method: signedIn.method, recoveryKeysLeft: signedIn.recoveryLeft }, (r, style) => {
    const how = { password: 'password only', totp: 'TOTP', yubico: 'YubiKey', recovery: 'recovery key' }[r.method];
    const left = r.method === 'recovery' ? `; ${r.recoveryKeysLeft} recovery key${r.recoveryKeysLeft === 1 ? '' : 's'} left` : '';
    return `${style.green('signed in')} as ${r.userid} (${how}${left})`;
  });
}
