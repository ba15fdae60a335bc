import { parseUserId } from '../../domain/userid.js';
import { parseYubicoOtp } from '../../domain/yubico.js';
import type { Invocation } from '../../invocation.js';
import { addYubicoKey } from '../../services/kinds/yubico-enrolment.js';
import { openSession } from '../session.js';
import { arg, stringOpt } from '../options.js';
import { yubicoRequest } from './yubico-options.js';
import { yubikeyView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const otp = parseYubicoOtp(stringOpt(inv, 'otp') ?? '').otp;
  const request = yubicoRequest(inv, otp);
  const session = await openSession(inv, { op: 'tfa.manage', action: 'tfa.add', target: userid });
  const added = await addYubicoKey(session, userid, request);
  inv.out.result(yubikeyView(added), (r, style) => `${style.green('added')} YubiKey ${r.publicId} (${r.description}, validated ${r.mode}) for ${r.userid}: factor ${r.id}`);
}
