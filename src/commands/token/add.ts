import { parseComment } from '../../domain/account.js';
import { parseTokenName, TOKEN_PRIVILEGES, type TokenPrivileges } from '../../domain/api-token.js';
import { parseDate } from '../../domain/dates.js';
import { parseUserId } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { addToken } from '../../services/tokens.js';
import { arg, stringOpt } from '../options.js';
import { refuseDiscardedSecret } from '../secrets.js';
import { openSession } from '../session.js';
import { tokenView, type TokenView } from '../views.js';
import type { Style } from '../../output.js';
import { shownBeforeCommit } from '../before-commit.js';

/** `token add USERID NAME`: a new API token, its secret shown once. */
export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const name = parseTokenName(arg(inv, 1));
  const expireText = stringOpt(inv, 'expire');
  const expires = expireText === undefined || expireText === 'never' ? null : parseDate(expireText, 'expiry date');
  const privileges = (stringOpt(inv, 'privileges') ?? 'inherit') as TokenPrivileges;
  if (!TOKEN_PRIVILEGES.includes(privileges)) throw new UsageError(`invalid --privileges ${privileges}: inherit or read-only`);
  const comment = parseComment(stringOpt(inv, 'comment') ?? '');
  refuseDiscardedSecret(inv, 'the token\'s value (shown only now)', 'send standard output to a file only its program can read (> FILE), or let it be shown');
  const session = await openSession(inv, { op: 'token.manage', action: 'token.add', target: userid });
  // Shown before it is stored, as recovery keys are: standard output that cannot be written (a
  // full disk, a reader gone) stores no token whose value nobody has.
  await shownBeforeCommit(true, 'the token shown was not stored', (shown) =>
    addToken(session, userid, name, { privileges, expires, comment }, ({ token, value, warnings }) =>
      shown?.(() => {
        for (const w of warnings) inv.out.warn(w);
        inv.out.resultBeforeCommit({ ...tokenView(token), value }, render, 'nothing was stored');
      }),
    ),
    undefined,
    () => inv.out.delivered('nothing was stored'),
  );
}

function render(t: TokenView & { readonly value: string }, style: Style): string {
  return [
    `${style.green('added')} API token ${t.tokenid} (${t.privileges}${t.expires ? `, until ${t.expires}` : ''}). Its value, shown this once:`,
    '',
    `  ${t.value}`,
    '',
    'Keep it in a file only its program can read, and use it with TFACTL_TOKEN or --token @FILE.',
  ].join('\n');
}
