import { isoTime } from '../domain/dates.js';
import type { CodeKind } from '../domain/second-factor.js';
import { parseUserId } from '../domain/userid.js';
import { UsageError } from '../errors.js';
import { KiB, readInputFile } from '../files.js';
import type { Invocation } from '../invocation.js';
import { type AuthDeps, authenticate, beginSignIn, finishSignIn, type SignedIn, type SignInChallenge } from '../services/authenticate.js';
import { secretKeyLoader } from '../services/session.js';
import type { Style } from '../output.js';
import { commandCredentials, secondFactorValue, secretsOf } from './credentials.js';
import { boolOpt, requireSecretInput, stringOpt } from './options.js';
import { authDeps, openStore } from './session.js';

/** The most tfactl reads of an answer given with --response (a code now; a WebAuthn answer is a few KiB). */
const RESPONSE_MAX_BYTES = 64 * KiB;

/**
 * `login USERID`: the password, then a second factor when one is required, in one go. For a web
 * app the same in two halves: `--begin` checks the password and hands out a challenge (JSON), and
 * `--finish --challenge ID` answers it, from another process and within 120 s.
 */
export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(inv.args[0] ?? '').id;
  // commander has checked --type against its choices (cli.ts).
  const kind = stringOpt(inv, 'type') as CodeKind | undefined;
  const begin = boolOpt(inv, 'begin') === true;
  const finish = boolOpt(inv, 'finish') === true;
  const challengeId = stringOpt(inv, 'challenge');
  const response = stringOpt(inv, 'response');
  const code = stringOpt(inv, 'code');
  if (begin && finish) throw new UsageError('give --begin or --finish, not both');
  if (!finish && (challengeId !== undefined || response !== undefined)) throw new UsageError('--challenge and --response go with --finish');
  if (finish && challengeId === undefined) throw new UsageError('--finish answers a challenge: give its id with --challenge (from login --begin)');
  if (finish && (response === undefined) === (code === undefined)) throw new UsageError('--finish needs the answer: --response FILE (- for standard input) or --code');
  if (begin && code !== undefined) throw new UsageError('--begin only checks the password: the code goes with --finish');
  if (!finish) requireSecretInput(inv, `the password of ${userid}`);

  const { store, keyPath } = await openStore(inv);
  const deps = authDeps(inv, store, secretKeyLoader(store, keyPath), userid);
  const context = { userid, action: 'login' };
  if (finish) {
    const answer = response !== undefined ? readResponse(inv, response) : secondFactorValue(inv, code as string, '--code', `the second factor of ${userid}`);
    return showSignedIn(inv, await finishSignIn(deps, context, challengeId as string, { code: await answer, kind }));
  }
  if (begin) {
    const begun = await beginSignIn(deps, context, await secretsOf(inv).read(`the password of ${userid}`));
    return 'signedIn' in begun ? showSignedIn(inv, begun.signedIn) : showChallenge(inv, begun.challenge);
  }
  const credentials = commandCredentials(inv, userid, { flag: '--code', value: code, kind });
  return showSignedIn(inv, await authenticate(deps satisfies AuthDeps, { ...context, credentials }));
}

/** The answer --response names: one line of standard input (-), or a regular file of a few KiB. */
async function readResponse(inv: Invocation, response: string): Promise<string> {
  if (response === '-') return secretsOf(inv).nextLine('the answer to the challenge', '--response');
  const text = readInputFile(response, { name: 'the --response file', maxBytes: RESPONSE_MAX_BYTES }).toString('utf8').trim();
  if (text === '') throw new UsageError(`the --response file ${response} is empty`);
  return text;
}

function showSignedIn(inv: Invocation, signedIn: SignedIn): void {
  for (const w of signedIn.warnings) inv.out.warn(w);
  inv.out.result({ userid: signedIn.user.userid, method: signedIn.method, recoveryKeysLeft: signedIn.recoveryLeft }, (r, style) => {
    const how = { password: 'password only', totp: 'TOTP', yubico: 'YubiKey', recovery: 'recovery key' }[r.method];
    const left = r.method === 'recovery' ? `; ${r.recoveryKeysLeft} recovery key${r.recoveryKeysLeft === 1 ? '' : 's'} left` : '';
    return `${style.green('signed in')} as ${r.userid} (${how}${left})`;
  });
}

function showChallenge(inv: Invocation, c: SignInChallenge): void {
  const view = { userid: c.userid, challenge: c.id, kinds: c.kinds, recoveryKeysLeft: c.recoveryLeft, expires: isoTime(c.expires), publicKey: null };
  inv.out.result(view, (r, style: Style) =>
    [
      `${style.green('password accepted')} for ${r.userid}; the second factor (${r.kinds.join(', ')}) answers challenge ${r.challenge} until ${r.expires.replace('T', ' ')}:`,
      `  tfactl login ${r.userid} --finish --challenge ${r.challenge} --code CODE`,
    ].join('\n'),
  );
}
