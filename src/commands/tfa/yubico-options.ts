import { parseComment } from '../../domain/account.js';
import { parseHexBytes } from '../../domain/yubico.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import type { YubicoRequest } from '../../services/kinds/yubico-enrolment.js';
import { secretOpt, stringOpt } from '../options.js';

/** The YubiKey options shared by `tfa add yubico` and `user add --tfa yubico`, checked. */
export function yubicoRequest(inv: Invocation, otp: string): YubicoRequest {
  const aesKey = secretOpt(inv, 'aesKey', '--aes-key');
  const privateId = secretOpt(inv, 'privateId', '--private-id');
  if ((aesKey === undefined) !== (privateId === undefined)) throw new UsageError('offline validation needs both --aes-key and --private-id');
  return {
    otp,
    description: parseComment(stringOpt(inv, 'description') ?? '', 'description') ?? 'YubiKey',
    offline:
      aesKey !== undefined && privateId !== undefined
        ? { aesKey: parseHexBytes(aesKey, 16, '--aes-key'), privateId: parseHexBytes(privateId, 6, '--private-id') }
        : null,
  };
}
