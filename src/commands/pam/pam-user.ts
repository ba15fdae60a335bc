import { parseUserId, quote, shownIfUserIdShaped } from '../../domain/userid.js';
import { StoreError, UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { stringOpt } from '../options.js';

/** What pam_exec tells its program, for the audit trail: never the answer. */
export interface PamItems {
  readonly service: string | null;
  readonly rhost: string | null;
  readonly tty: string | null;
}

/**
 * The user PAM asks about (PAM_USER) as a user id of --realm (default local), and the PAM items
 * pam_exec puts in the environment. Only the `auth` step is tfactl's: anything else is a usage error.
 * The login name must be the user's name exactly as tfactl keeps it: tfactl folds case and
 * look-alike forms (`ALICE`, fullwidth `ａｌｉｃｅ`), but they are other accounts to the system, whose
 * codes would be checked (and wrong ones counted) as alice's.
 */
export function pamUser(inv: Invocation): { readonly userid: string; readonly pam: PamItems } {
  const { env } = inv.ctx;
  const user = env.PAM_USER;
  if (!user) throw new UsageError('PAM_USER is not set: tfactl pam runs from pam_exec.so (see tfactl pam config)', 'no_pam_user');
  if (env.PAM_TYPE !== undefined && env.PAM_TYPE !== 'auth') throw new UsageError(`tfactl pam is for the auth step, not ${env.PAM_TYPE}: put it on an auth line`, 'pam_type');
  if (user.includes('@')) throw new UsageError(`PAM_USER ${shownIfUserIdShaped(user)} holds an @: tfactl maps a login name to a user id with --realm`, 'invalid_userid');
  const realm = stringOpt(inv, 'realm') ?? 'local';
  const { id: userid, name } = parseUserId(`${user}@${realm}`, (whole) => (shownIfUserIdShaped(user) === quote(user) ? quote(whole) : `(PAM_USER ${shownIfUserIdShaped(user)})`));
  if (name !== user) {
    throw new UsageError(`PAM_USER ${quote(user)} is not a tfactl user name as it stands: tfactl reads it as ${name}, another login name, so it is refused`, 'invalid_userid');
  }
  // As the audit trail keeps them: a host name is at most 253 characters, a PAM item set by a
  // client (PAM_RHOST from a remote host's name) no longer than that here.
  const item = (v: string | undefined) => (v ? (v.length > PAM_ITEM_MAX ? `${v.slice(0, PAM_ITEM_MAX)}…` : v) : null);
  return { userid, pam: { service: item(env.PAM_SERVICE), rhost: item(env.PAM_RHOST), tty: item(env.PAM_TTY) } };
}

/** The longest PAM item (host, service, terminal) the audit trail keeps whole. */
const PAM_ITEM_MAX = 255;

/**
 * What PAM runs reads no TFACTL_* variable (the lines name their store; its key is beside it, or
 * /etc/tfactl/config's): a missing key file's advice to set TFACTL_KEY_FILE would not help there.
 */
export function pamKeyAdvice(e: unknown): unknown {
  const hint = '(restore it, or set TFACTL_KEY_FILE)';
  if (!(e instanceof StoreError) || e.code !== 'key_file' || !e.message.endsWith(hint)) return e;
  return new StoreError(`${e.message.slice(0, -hint.length)}(restore it there: what PAM runs reads no TFACTL_* variable, so its key file is the one beside the store or the key-file of /etc/tfactl/config)`, 'key_file');
}
