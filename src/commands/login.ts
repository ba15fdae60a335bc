import { tfactlLine } from '../domain/command-line.js';
import { isoTime } from '../domain/dates.js';
import type { CodeKind } from '../domain/second-factor.js';
import { parseSignInUserId } from '../domain/userid.js';
import { parseOrigin, parseRpId } from '../domain/webauthn-settings.js';
import { StoreError, UsageError } from '../errors.js';
import type { Invocation } from '../invocation.js';
import { type AuthDeps, authenticate, beginSignIn, finishSignIn, type SignedIn, type SignInChallenge } from '../services/authenticate.js';
import { secretKeyLoader } from '../services/session.js';
import type { Style } from '../output.js';
import { commandCredentials, refuseEmptySecondFactor, secondFactorValue, secretsOf } from './credentials.js';
import { boolOpt, listOpt, requireSecretInput, stringOpt } from './options.js';
import { authDeps, openStore, storePath } from './session.js';
import { readResponse } from './response.js';
import { ticketBox } from './tickets.js';
import { fido2Instructions } from './webauthn/fido2-lines.js';
import { challengeView, signedInView } from './views.js';

/**
 * `login USERID`: the password, then a second factor when one is required, in one go. For a web
 * app the same in two halves: `--begin` checks the password and hands out a challenge (JSON), and
 * `--finish --challenge ID` answers it, from another process and within 120 s.
 */
export async function run(inv: Invocation): Promise<void> {
  const userid = parseSignInUserId(inv.args[0] ?? '').id;
  // commander has checked --type against its choices (cli.ts).
  const kind = stringOpt(inv, 'type') as CodeKind | undefined;
  const begin = boolOpt(inv, 'begin') === true;
  const finish = boolOpt(inv, 'finish') === true;
  const challengeId = stringOpt(inv, 'challenge');
  const response = stringOpt(inv, 'response');
  const code = stringOpt(inv, 'code');
  if (begin && finish) throw new UsageError('give --begin or --finish, not both', 'conflicting_options');
  if (!finish && (challengeId !== undefined || response !== undefined)) throw new UsageError('--challenge and --response go with --finish');
  if (finish && challengeId === undefined) throw new UsageError('--finish answers a challenge: give its id with --challenge (from login --begin)');
  if (finish && response !== undefined && code !== undefined) throw new UsageError('--finish takes one answer: --response FILE or --code, not both', 'conflicting_options');
  if (finish && response === undefined && code === undefined) throw new UsageError('--finish needs the answer: --response FILE (- for standard input) or --code');
  if (begin && code !== undefined) throw new UsageError('--begin only checks the password: the code goes with --finish', 'conflicting_options');
  const rpIdOpt = stringOpt(inv, 'rpId');
  const originOpts = listOpt(inv, 'origin');
  if (!begin && (rpIdOpt !== undefined || originOpts.length > 0)) throw new UsageError('--rp-id and --origin go with --begin (the challenge remembers them)');
  const keys = {
    rpId: rpIdOpt === undefined ? undefined : parseRpId(rpIdOpt, 'invalid_rp_id'),
    origins: originOpts.length === 0 ? undefined : originOpts.map((o) => parseOrigin(o, 'origin', 'invalid_origin')),
  };
  const forcePage = boolOpt(inv, 'webauthn') === true;
  const noBrowser = boolOpt(inv, 'browser') === false;
  const noOpen = boolOpt(inv, 'open') === false;
  if (forcePage && noBrowser) throw new UsageError('give --webauthn or --no-browser, not both', 'conflicting_options');
  if ((begin || finish) && (forcePage || noBrowser || noOpen)) throw new UsageError('--webauthn, --no-browser and --no-open are for signing in at a terminal, not with --begin or --finish', 'conflicting_options');
  if (forcePage && code !== undefined) throw new UsageError('--webauthn signs in with a security key on the page: leave out --code', 'conflicting_options');
  // The page is offered at a terminal (or always with --webauthn), when a security key may answer.
  const page = !begin && !finish && !noBrowser && code === undefined && (forcePage || inv.ctx.io.stdinIsTTY);
  const sessionOpt = boolOpt(inv, 'session');
  if ((begin || finish) && sessionOpt !== undefined) throw new UsageError('--session and --no-session are for signing in here, not with --begin or --finish', 'conflicting_options');
  const tickets = ticketBox(inv, storePath(inv));
  if (sessionOpt === true && tickets === null) throw new UsageError('--session keeps a ticket in $XDG_RUNTIME_DIR/tfactl, and XDG_RUNTIME_DIR is not set (or not an absolute path)', 'no_runtime_dir');
  // Kept on a terminal unless --no-session; in scripts only with --session.
  let keep = !begin && !finish && tickets !== null && (sessionOpt ?? inv.ctx.io.stdinIsTTY);
  if (!finish) requireSecretInput(inv, `the password of ${userid}`);
  refuseEmptySecondFactor('--code', code, userid);

  // Where the session will be kept, checked before the sign-in spends a code on it: refused for
  // --session; on a terminal, where one is kept unasked, the sign-in goes on without it.
  if (keep) {
    try {
      await tickets?.prepare?.();
    } catch (e) {
      if (sessionOpt === true || !(e instanceof StoreError && e.code === 'session_unavailable')) throw e;
      inv.out.warn(`no session kept: ${e.message}`);
      keep = false;
    }
  }
  const { store, keyPath } = await openStore(inv);
  const deps = authDeps(inv, store, secretKeyLoader(store, keyPath), userid);
  const context = { userid, action: 'login', keys };
  if (finish) {
    const answer = await (response !== undefined ? readResponse(inv, response, 'the answer to the challenge') : secondFactorValue(inv, code as string, '--code', `the second factor of ${userid}`));
    // No password is involved here: an empty line is said (exit 2), not counted as a guess.
    if (answer.trim() === '') throw new UsageError(`no answer was given to the challenge for ${userid} (an empty line of standard input)`, 'missing_secret');
    return showSignedIn(inv, await finishSignIn(deps, context, challengeId as string, { code: answer, kind }));
  }
  if (begin) {
    const begun = await beginSignIn(deps, context, await secretsOf(inv).read(`the password of ${userid}`));
    return 'signedIn' in begun ? showSignedIn(inv, begun.signedIn) : showChallenge(inv, begun.challenge);
  }
  const credentials = commandCredentials(inv, userid, { flag: '--code', value: code, kind, page: page ? { open: !noOpen, required: forcePage } : undefined });
  const signedIn = await authenticate(deps satisfies AuthDeps, { ...context, keys: { loopback: page }, credentials });
  // A second factor given for a user who needs none was not looked at: said, not dropped unsaid.
  if (signedIn.method === 'password' && code !== undefined) inv.out.warn(`${signedIn.user.userid} needs no second factor: --code was not used (the password alone signed in)`);
  if (!keep || tickets === null) {
    showSignedIn(inv, signedIn);
    // On a terminal a session is kept unless asked not to: say why none was (after su -, often).
    if (tickets === null && sessionOpt === undefined && inv.ctx.io.stdinIsTTY) inv.out.note('no session kept: XDG_RUNTIME_DIR is not set (as after su -) or not an absolute path, so later commands ask again');
    return;
  }
  const { endSession, keepSession } = await import('../services/sessions.js');
  // The session a ticket here kept before is ended, not left valid with its ticket replaced.
  const replaced = await tickets.read(signedIn.user.userid);
  const kept = await keepSession(deps, signedIn.user, signedIn.basis);
  const file = await tickets.write(signedIn.user.userid, kept.secret);
  if (replaced) await endSession(store, replaced);
  return showSignedIn(inv, signedIn, { expires: isoTime(kept.expires), file });
}

function showSignedIn(inv: Invocation, signedIn: SignedIn, session?: { readonly expires: string; readonly file: string }): void {
  for (const w of signedIn.warnings) inv.out.warn(w);
  // null when none was kept: a value that is absent is null, never a missing key.
  const view = { ...signedInView(signedIn), session: session ?? null };
  inv.out.result(view, (r, style) => {
    const how = { password: 'password only', totp: 'TOTP', yubico: 'YubiKey', recovery: 'recovery key', webauthn: 'security key', u2f: 'U2F security key' }[r.method];
    const left = r.method === 'recovery' ? `; ${r.recoveryKeysLeft} recovery key${r.recoveryKeysLeft === 1 ? '' : 's'} left` : '';
    const kept = r.session ? `\nsession kept until ${r.session.expires.replace('T', ' ')}: 'tfactl --as ${r.userid} ...' uses it; 'tfactl logout' ends it` : '';
    return `${style.green('signed in')} as ${r.userid} (${how}${left})${kept}`;
  });
}

function showChallenge(inv: Invocation, c: SignInChallenge): void {
  inv.out.result(challengeView(c), (r, style: Style) => {
    const codes = r.kinds.filter((k) => k !== 'webauthn' && k !== 'u2f');
    const finish = (more: string) => tfactlLine('login', [r.userid], `--finish --challenge ${r.challenge} ${more}`);
    return [
      `${style.green('password accepted')} for ${r.userid}; the second factor (${r.kinds.join(', ')}) answers challenge ${r.challenge} until ${r.expires.replace('T', ' ')}:`,
      ...(codes.length > 0 ? [`  ${finish('--code CODE')}`] : []),
      ...(r.publicKey ? [`  ${finish('--response FILE')}   (a browser's answer to the publicKey options --json gives)`] : []),
      ...fido2Instructions(c, false, `then: ${finish('--response -')}   (and paste that line)`),
    ].join('\n');
  });
}
