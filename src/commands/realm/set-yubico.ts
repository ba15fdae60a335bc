import { parseRealmName } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { setRealmYubico } from '../../services/realms.js';
import { openSession } from '../session.js';
import { arg, boolOpt } from '../options.js';
import { realmFields } from '../render.js';
import { realmView } from '../views.js';
import { yubicoValidation } from './yubico-options.js';

export async function run(inv: Invocation): Promise<void> {
  const name = parseRealmName(arg(inv, 0));
  const yubico = yubicoValidation(inv);
  const none = boolOpt(inv, 'none') === true;
  if ((yubico === null) !== none) throw new UsageError('give --offline, --api-id with --api-key, or --none', none ? 'conflicting_options' : 'usage');
  const session = await openSession(inv, { op: 'realm.manage', action: 'realm.set-yubico', target: name });
  const { realm, warnings } = await setRealmYubico(session, name, yubico);
  for (const w of warnings) inv.out.warn(w);
  inv.out.result(realmView(realm), (r, style) => `${style.green('realm')} ${r.name} validates YubiKeys ${r.yubico ? (r.yubico.mode === 'offline' ? 'offline' : 'with its service') : 'no longer'}\n${realmFields(r, style)}`);
}
