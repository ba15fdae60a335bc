import type { CodeKind } from '../domain/second-factor.js';
import { describeOffer } from '../domain/second-factor.js';
import { checkPassword } from '../domain/password-policy.js';
import { UsageError } from '../errors.js';
import type { GlobalOptions, Invocation } from '../invocation.js';
import type { Credentials } from '../services/authenticate.js';
import { passwordPolicy } from '../services/settings.js';
import type { NewPasswordReader } from '../services/users.js';
import type { Store } from '../services/session.js';
import { secretValue } from './options.js';
import { SecretSource } from './secrets.js';

const sources = new WeakMap<Invocation, SecretSource>();

/**
 * The one SecretSource of a command run: every password and every `-` value comes from it, so the
 * lines of standard input are taken in the order tfactl uses them.
 */
export function secretsOf(inv: Invocation): SecretSource {
  let source = sources.get(inv);
  if (!source) {
    // --password-stdin on a terminal would read what is typed there with every key shown: there
    // the passwords are asked with the input hidden, as without it (in the same order).
    const fromStdin = (inv.opts as GlobalOptions).passwordStdin === true && !inv.ctx.io.stdinIsTTY;
    source = new SecretSource(inv.ctx.io, inv.ctx.prompter, fromStdin, (m) => inv.out.note(m));
    sources.set(inv, source);
  }
  return source;
}

/** Refuses an empty second factor given on the command line (a script's unset $CODE): said before the store is opened. */
export function refuseEmptySecondFactor(flag: string, value: string | undefined, userid: string): void {
  if (value !== undefined && value.trim() === '') throw new UsageError(`${flag} is empty: give the second factor of ${userid} (- reads it from standard input)`, 'missing_secret');
}

/**
 * A second factor given on the command line: the value itself, `-` for the next line of standard
 * input, or `@FILE` for the one line of a file, so a recovery key need not show in `ps`. `-` is
 * read only when it is asked for, so the lines of standard input keep their order.
 */

export async function secondFactorValue(inv: Invocation, value: string, flag: string, purpose: string): Promise<string> {
  if (value === '-') return secretsOf(inv).nextLine(purpose, flag);
  return secretValue(inv, value, flag);
}

export interface SecondFactorSource {
  /** The option that carries it: `--code` for `login`, `--auth-code` for `--as`. */
  readonly flag: string;
  readonly value: string | undefined;
  readonly kind?: CodeKind | undefined;
  /**
   * A security key may answer on the loopback page this process serves (the sign-in asked for RP
   * id localhost with keys.loopback); `open`: start a browser where there is a desktop.
   */
  readonly page?: { readonly open: boolean; readonly required?: boolean } | undefined;
}

/** How many second factors a person may type at one sign-in on a terminal, as sudo asks for a password three times. */
const TYPED_TRIES = 3;

/**
 * Where a signing-in user's credentials come from on the command line, for `login` and `--as`
 * alike: the password from --password-stdin or a prompt; the second factor, when they need one,
 * from its flag or a prompt, and never by waiting on a pipe.
 */
export function commandCredentials(inv: Invocation, userid: string, second: SecondFactorSource): Credentials {
  const secrets = secretsOf(inv);
  refuseEmptySecondFactor(second.flag, second.value, userid);
  // A file is read now, before the password: what is wrong with it (not there, empty) says
  // nothing of the password, and counts toward no ban. Standard input's line comes after it.
  const fromFile = second.value?.startsWith('@') ? secretValue(inv, second.value, second.flag) : undefined;
  let keySignIn: { settle(error?: unknown): Promise<void> } | undefined;
  // Answers typed at this terminal's prompt: a mistyped one is asked for again, up to TYPED_TRIES in all.
  let typed = 0;
  let lastTyped = false;
  return {
    password: () => secrets.read(`the password of ${userid}`),
    secondFactor: async (offer) => {
      lastTyped = false;
      const wanted = describeOffer(offer);
      if (second.value !== undefined) {
        const code = fromFile ?? (await secondFactorValue(inv, second.value, second.flag, `the second factor of ${userid}`));
        // An empty line is no code anyone has: not a guess to count toward the lockout.
        if (code.trim() === '') throw new UsageError(`no second factor was given for ${userid} (an empty line of standard input)`, 'missing_secret');
        return { code, kind: second.kind };
      }
      const tty = inv.ctx.io.stdinIsTTY;
      const page = second.page !== undefined && offer.publicKey !== null;
      if (second.page?.required && !page) {
        throw new UsageError(`${userid} has no security key the page can sign in with (one registered with 'tfactl tfa add webauthn', RP id localhost); leave out --webauthn`, 'no_tty');
      }
      const prompt = `${wanted[0]?.toUpperCase()}${wanted.slice(1)} for ${userid}:`;
      if (page || (tty && offer.fido2.length > 0)) {
        const [{ fido2Instructions }, { startKeySignIn }] = await Promise.all([import('./webauthn/fido2-lines.js'), import('./webauthn/sign-in-page.js')]);
        if (tty) for (const line of fido2Instructions(offer, page)) inv.out.instruct(line);
        const started = startKeySignIn(inv, offer, { userid, page, prompt: tty ? prompt : null, open: second.page?.open ?? false });
        keySignIn = started;
        return started.answer;
      }
      if (!tty) {
        // A security key answers a challenge made for this very sign-in: no flag can carry it.
        const codes = offer.kinds.filter((k) => k !== 'webauthn' && k !== 'u2f');
        const keyWay =
          second.flag === '--code'
            ? "give --webauthn (a page in your browser, for keys registered on tfactl's own page: RP id localhost), or use login --begin and --finish (a web app)"
            : `sign in at a terminal with 'tfactl login ${userid} --session' (a kept session serves --as), or use an API token`;
        if (codes.length === 0) throw new UsageError(`${userid} signs in with a security key, which answers a challenge made for each sign-in: ${keyWay}`, 'no_tty');
        const forKeys = codes.length < offer.kinds.length ? `; for a security key, ${keyWay}` : '';
        const locked = offer.totpLocked ? '; TOTP is locked after too many failed codes' : '';
        throw new UsageError(`${userid} needs a second factor: give it with ${second.flag} (a ${describeOffer({ ...offer, kinds: codes })}; - reads it from standard input)${forKeys}${locked}`, 'no_tty');
      }
      // The factor they reach for first is refused: said before they type a code of it.
      if (offer.totpLocked) inv.out.instruct(`${userid}'s TOTP is locked after too many failed codes (an admin can unlock it):`);
      const code = await inv.ctx.prompter.password(prompt);
      typed++;
      lastTyped = true;
      return { code, kind: second.kind };
    },
    settled: async (error) => keySignIn?.settle(error),
    again: (error) => {
      if (!lastTyped || typed >= TYPED_TRIES) return false;
      inv.out.instruct(`${error.message.replace(/^authentication failed: /, '')}: try again (${TYPED_TRIES - typed} ${TYPED_TRIES - typed === 1 ? 'try' : 'tries'} left)`);
      return true;
    },
  };
}

/**
 * A new password (user add, user passwd) read in the sign-in's precheck: after the acting user's
 * password and before their second factor, so a password the store's policy refuses spends no
 * TOTP code or recovery key. Where nobody signs in (the store's owner, an API token) it is read
 * when the command asks for it, as before; and so it is when the second factor is the next line of
 * standard input (`--auth-code -`), which comes before the new password there.
 */
export function newPasswordInput(inv: Invocation, purpose: string): { precheck(store: Store): Promise<void>; read: NewPasswordReader } {
  let early: string | undefined;
  const codeFirst = (inv.opts as GlobalOptions).authCode === '-';
  return {
    async precheck(store) {
      if (codeFirst) return;
      const policy = await passwordPolicy(store);
      early = await secretsOf(inv).readNew(purpose, (p) => checkPassword(p, policy));
    },
    async read(check) {
      if (early === undefined) return secretsOf(inv).readNew(purpose, check);
      check(early);
      return early;
    },
  };
}
