import { parseComment } from '../../domain/account.js';
import { isoTime } from '../../domain/dates.js';
import { registrationResponseProblem } from '../../domain/fido.js';
import { parseUserId } from '../../domain/userid.js';
import { parseOrigin, parseRpId } from '../../domain/webauthn-settings.js';
import { UsageError } from '../../errors.js';
import type { GlobalOptions, Invocation } from '../../invocation.js';
import type { EnrolledCredential, RegistrationChallenge } from '../../services/kinds/webauthn-enrolment.js';
import { beginWebauthnEnrolment, finishWebauthnEnrolment } from '../../services/kinds/webauthn-enrolment.js';
import { arg, boolOpt, listOpt, stringOpt } from '../options.js';
import { readResponse } from '../response.js';
import { checkFactorAddable } from '../../services/factors.js';
import { openSession } from '../session.js';
import { parsePort, runLoopbackPage } from '../webauthn/loopback.js';

const DEFAULT_DESCRIPTION = 'security key';
const REGISTRATION_JSON = "the browser's RegistrationResponseJSON (credential.toJSON(), or @simplewebauthn/browser's startRegistration)";

/**
 * `tfa add webauthn USERID`: registers a security key or passkey. At a terminal through the
 * loopback page (RP id localhost); for a web app as a JSON ceremony in two halves, `--begin`
 * (creation options) and `--finish --challenge ID --response FILE|-` (the browser's answer).
 */
export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const begin = boolOpt(inv, 'begin') === true;
  const finish = boolOpt(inv, 'finish') === true;
  const challengeId = stringOpt(inv, 'challenge');
  const response = stringOpt(inv, 'response');
  const rpIdOpt = stringOpt(inv, 'rpId');
  const originOpts = listOpt(inv, 'origin');
  const portOpt = stringOpt(inv, 'port');
  const noOpen = boolOpt(inv, 'open') === false;
  const forcePage = boolOpt(inv, 'page') === true;
  if (begin && finish) throw new UsageError('give --begin or --finish, not both', 'conflicting_options');
  if (!finish && (challengeId !== undefined || response !== undefined)) throw new UsageError('--challenge and --response go with --finish');
  if (finish && (challengeId === undefined || response === undefined)) {
    throw new UsageError('--finish needs the challenge from --begin (--challenge ID) and the browser\'s answer (--response FILE, - for standard input)');
  }
  if (!begin && (rpIdOpt !== undefined || originOpts.length > 0)) throw new UsageError('--rp-id and --origin go with --begin (the page uses RP id localhost)');
  if ((begin || finish) && (portOpt !== undefined || noOpen || forcePage)) throw new UsageError('--page, --port and --no-open are for the page: leave them out with --begin and --finish', 'conflicting_options');
  if (finish && stringOpt(inv, 'description') !== undefined) throw new UsageError('--description goes with --begin (the challenge remembers it)');
  const port = portOpt === undefined ? undefined : parsePort(portOpt);
  const rpId = rpIdOpt === undefined ? undefined : parseRpId(rpIdOpt, 'invalid_rp_id');
  const origins = originOpts.length === 0 ? undefined : originOpts.map((o) => parseOrigin(o, 'origin', 'invalid_origin'));
  const descriptionOpt = stringOpt(inv, 'description');
  const parsedDescription = descriptionOpt === undefined ? undefined : (parseComment(descriptionOpt, 'description') ?? DEFAULT_DESCRIPTION);
  // The page waits up to 120 s for someone at a browser: a script without a terminal says so.
  if (!begin && !finish && !forcePage && !inv.ctx.io.stdinIsTTY) {
    throw new UsageError('standard input is not a terminal, so no page is started to wait for a browser: give --page to start it anyway, or --begin and --finish for a web app', 'no_tty');
  }

  let answer: unknown;
  const readAnswer = async (): Promise<void> => {
    const text = await readResponse(inv, response as string, "the browser's answer");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UsageError(`--response is not JSON: give ${REGISTRATION_JSON}`, 'invalid_response');
    }
    const problem = registrationResponseProblem(parsed);
    if (problem !== null) throw new UsageError(`--response is not a registration answer: ${problem}; give ${REGISTRATION_JSON}`, 'invalid_response');
    answer = parsed;
  };
  // A file is read before anything else. Standard input's line comes in the order of every other
  // (README: the acting user's password, their --auth-code -, then the rest): for --as, in the
  // sign-in's precheck, before the second factor, which an unreadable answer then does not spend.
  const fromStdin = finish && response === '-';
  if (finish && !fromStdin) await readAnswer();
  const codeFirst = (inv.opts as GlobalOptions).authCode === '-';
  const session = await openSession(inv, { op: 'tfa.manage', action: 'tfa.add', target: userid, ...(fromStdin && !codeFirst && { precheck: readAnswer }) });
  if (finish && answer === undefined) await readAnswer();
  if (finish) return showEnrolled(inv, await finishWebauthnEnrolment(session, userid, challengeId as string, answer));
  if (begin) {
    return showChallenge(inv, await beginWebauthnEnrolment(session, userid, { description: parsedDescription ?? DEFAULT_DESCRIPTION, rpId, origins }));
  }

  let description = parsedDescription;
  if (description === undefined && inv.ctx.io.stdinIsTTY && !inv.out.json) {
    // Nothing is asked for a user who is not there, or may not have it.
    await checkFactorAddable(session, userid, 'webauthn');
    description = parseComment(await inv.ctx.prompter.input('Description of the security key (e.g. "yubikey 5 nfc"):', DEFAULT_DESCRIPTION), 'description') ?? DEFAULT_DESCRIPTION;
  }
  const begun = await beginWebauthnEnrolment(session, userid, { description: description ?? DEFAULT_DESCRIPTION, loopback: true });
  const enrolled = await runLoopbackPage(inv, {
    kind: 'registration',
    publicKey: begun.publicKey as never,
    prompt: {
      heading: 'Register a security key',
      facts: [
        ['User', userid],
        ['Description', description ?? DEFAULT_DESCRIPTION],
        ['For', `tfactl on ${inv.ctx.hostname} (RP id localhost)`],
      ],
    },
    port,
    open: !noOpen,
    successMessage: 'Registered. You can close this page and go back to the terminal.',
    finish: (answer, origin) => finishWebauthnEnrolment(session, userid, begun.id, answer, { loopbackOrigin: origin }),
  });
  showEnrolled(inv, enrolled);
}

function showChallenge(inv: Invocation, c: RegistrationChallenge): void {
  inv.out.result({ userid: c.userid, challenge: c.id, expires: isoTime(c.expires), publicKey: c.publicKey }, (r) =>
    [
      `registration challenge ${r.challenge} for ${r.userid} (RP id ${r.publicKey.rp.id}) until ${r.expires.replace('T', ' ')}:`,
      '  give publicKey (see --json) to navigator.credentials.create() in the browser, then',
      `  tfactl tfa add webauthn ${r.userid} --finish --challenge ${r.challenge} --response FILE`,
    ].join('\n'),
  );
}

function showEnrolled(inv: Invocation, e: EnrolledCredential): void {
  for (const w of e.warnings) inv.out.warn(w);
  const view = {
    id: e.id,
    userid: e.userid,
    type: 'webauthn' as const,
    description: e.description,
    algorithm: e.algorithm,
    credential: { id: e.credentialId, rpId: e.rpId, counter: e.counter },
  };
  inv.out.result(view, (r, style) => `${style.green('added')} security key ${r.id} (${r.description}, ${r.algorithm}, RP id ${r.credential.rpId}) for ${r.userid}`);
}
