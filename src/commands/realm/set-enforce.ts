import { parseTotpParams } from '../../domain/totp-params.js';
import { parseRealmName } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { setRealmEnforcement } from '../../services/realms.js';
import { yubicoValidation } from './yubico-options.js';
import { openSession } from '../session.js';
import type { EnforceType } from '../../domain/sign-in.js';
import { arg, stringOpt } from '../options.js';
import { realmFields } from '../render.js';
import { realmView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const name = parseRealmName(arg(inv, 0));
  const type = arg(inv, 1) as EnforceType;
  const step = stringOpt(inv, 'step');
  const period = stringOpt(inv, 'period');
  if (step !== undefined && period !== undefined && !(Number(step) === Number(period))) {
    throw new UsageError('--step and --period are one setting: give one of them', 'conflicting_options');
  }
  const totpInput = { digits: stringOpt(inv, 'digits'), period: step ?? period, algorithm: stringOpt(inv, 'algorithm') };
  const given = Object.entries(totpInput).filter(([, v]) => v !== undefined);
  if (type !== 'totp' && given.length > 0) {
    throw new UsageError('--digits, --step (--period) and --algorithm only apply to totp enforcement', 'conflicting_options');
  }
  // Checked before anything else; what is not given the service takes from the realm.
  if (type === 'totp') parseTotpParams(totpInput);
  const yubico = yubicoValidation(inv);
  if (type !== 'yubico' && yubico) throw new UsageError('--api-id, --api-key, --url and --offline only apply to yubico enforcement (or realm set-yubico)', 'conflicting_options');
  const session = await openSession(inv, { op: 'realm.manage', action: 'realm.set-enforce', target: name });
  const { realm, warnings } = await setRealmEnforcement(session, name, type, type === 'totp' ? totpInput : null, yubico);
  for (const w of warnings) inv.out.warn(w);
  inv.out.result(realmView(realm), (r, style) => `${style.green('realm')} ${r.name} now enforces ${r.enforce}\n${realmFields(r, style)}`);
}
