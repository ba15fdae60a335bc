import { UsageError } from './errors.js';
import type { Ctx } from './context.js';
import { namedInputFiles, writtenFileFlag } from './named-files.js';

/** Whether this is root, run by sudo for another user (SUDO_UID, not root's own). */
export function runBySudoForAnother(ctx: Pick<Ctx, 'uid' | 'env'>): boolean {
  const sudoUid = ctx.env.SUDO_UID;
  return ctx.uid === 0 && sudoUid !== undefined && sudoUid !== '' && sudoUid !== '0';
}

/**
 * A command run as root by sudo for another user (SUDO_UID) who names a tfactl user to act as
 * (--as, TFACTL_AS): a sudo rule that lets users run tfactl as root for themselves. Root's rights
 * are for the store; files the command line names would be written or read as root wherever that
 * user points them (a file in /etc, /etc/shadow read back in error messages, their own store as
 * --db in which they are root@local). So, as a tfactl service does for its clients, such a run
 * refuses every file its command line names, and the commands on the store's own files (exit 2).
 * The environment's (TFACTL_DB, TFACTL_KEY_FILE, TFACTL_CONFIG) are sudo's to keep out, as its
 * env_reset does unless a rule keeps them.
 */
export function refuseFilesUnderSudo(ctx: Pick<Ctx, 'uid' | 'env'>, command: string, args: readonly string[], opts: Readonly<Record<string, unknown>>): void {
  // What PAM runs takes no TFACTL_ variable and names its store itself (pam config wrote the line).
  if (command === 'pam prompt' || command === 'pam check') return;
  if (!runBySudoForAnother(ctx)) return;
  const as = typeof opts.as === 'string' ? opts.as : ctx.env.TFACTL_AS;
  if (as === undefined || as === '') return;
  const fix = 'run it as yourself, or through the tfactl service (tfactl serve)';
  const refuse = (what: string) => new UsageError(`${what} under sudo with --as, which acts as root for another user: ${fix}`, 'not_under_sudo');
  if (['init', 'serve', 'backup', 'restore', 'pam config'].includes(command)) throw refuse(`tfactl ${command} does not run`);
  if (opts.db !== undefined) throw refuse('--db is refused');
  const writes = writtenFileFlag(opts);
  if (writes !== null) throw refuse(`${writes} writes a file as root, refused`);
  const [read] = namedInputFiles(command, args, opts);
  if (read !== undefined) throw refuse(`${read.named} reads a file as root, refused${read.named === 'user import FILE' ? ' (- reads standard input)' : ''}`);
}
