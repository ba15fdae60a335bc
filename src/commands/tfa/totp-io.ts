import { rmSync } from 'node:fs';
import { OutputFailedError, StoreError, UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { parseQrTarget, qrMatrix, renderTerminal, terminalWidth, writeQrFile } from '../../qr.js';
import { parseIssuer, parseTotpParams } from '../../domain/totp-params.js';
import type { PreparedTotp, TotpEnrolmentIo, TotpRequest } from '../../services/kinds/totp-enrolment.js';
import { secondFactorValue } from '../credentials.js';
import { secretOpt, stringOpt } from '../options.js';
import { refuseDiscardedSecret, TERMINAL_TRIES } from '../secrets.js';

export interface TotpIoOptions {
  /** Whether a verification code will be asked for (false with --no-verify). */
  readonly verify: boolean;
  /** The option that carries the code, for error messages. */
  readonly codeFlag: string;
  /** The option that carries the secret (set up in the app before the code is asked for), for error messages. */
  readonly secretFlag: string;
  /**
   * Set when nothing on the command line asked for TOTP and a realm may (user add without --tfa):
   * what the user is told when TOTP comes to be enrolled that way and cannot be.
   */
  readonly askedByRealm?: string;
}

/**
 * Fails (before any prompt or store change) when a verification code is wanted but cannot be had:
 * never wait on a pipe, and with --json nothing is drawn to scan. The message names both ways
 * out, so an unverified factor is always asked for explicitly.
 */
export function requireVerificationCode(inv: Invocation, options: TotpIoOptions): void {
  if (!options.verify) return;
  const secretGiven = secretGivenIn(inv);
  const given = stringOpt(inv, 'code');
  if (given !== undefined) {
    // Nothing typed is no code: said before anything is checked, as login's --code '' is.
    if (given.trim() === '') throw new UsageError(`${options.codeFlag} is empty: give the code the app shows (- reads it from standard input)`, 'missing_secret');
    // A code typed on the command line is of a secret in the app already: one tfactl is about to
    // make has none yet. `-` and @FILE are read once it has been shown.
    if (!secretGiven && given !== '-' && !given.startsWith('@')) {
      throw new UsageError(
        `${options.codeFlag} CODE goes with ${options.secretFlag} (a secret entered in the app first): a new secret has no code yet; leave ${options.codeFlag} out to be asked after the QR code, or give ${options.codeFlag} - to read it from standard input then`,
        'conflicting_options',
      );
    }
    return;
  }
  // Nothing is shown to scan before the code is asked for: an app has a code only for a secret given beforehand.
  const code = `the code the app shows with ${options.codeFlag} (- reads it from standard input)`;
  const ways = `${secretGiven ? `give ${code}` : `give a secret with ${options.secretFlag} (enter it in the app first) and ${code}`}, or store the factor unverified with --no-verify (admins)`;
  // No terminal first: it is the reason whatever else is given (--qr png:FILE draws a file to scan, but nothing asks for its code).
  if (!inv.ctx.io.stdinIsTTY) throw new UsageError(`cannot ask for the verification code: standard input is not a terminal; ${ways}`, 'no_tty');
  // The QR code and secret go to standard output: redirected (> /dev/null, a file), the question
  // would come for a code of a secret never seen (or left in a file others may read). With --json
  // they are not shown there at all: a file (--qr png:FILE), or a secret in the app already, then.
  const qr = parseQrTarget(stringOpt(inv, 'qr') ?? 'terminal').kind;
  // Through a tfactl service no file is written for the client: --qr png:FILE is not offered there.
  const toFile = inv.ctx.remote === undefined ? 'draw the code to a file with --qr png:FILE, ' : '';
  if (inv.out.json && !secretGiven && qr !== 'png' && qr !== 'svg') {
    throw new UsageError(`with --json nothing is drawn to scan on standard output: ${toFile}${toFile === '' ? '' : 'or '}${ways}`, 'no_tty');
  }
  if (!secretGiven && !inv.ctx.io.stdout.isTTY && qr !== 'png' && qr !== 'svg') {
    throw new UsageError(`standard output is not a terminal, so the QR code and secret would not be shown before the question for their code: run it without redirecting standard output, ${toFile}or ${ways}`, 'no_tty');
  }
}

/** Whether the command names the TOTP secret (--secret, or user add's --totp-secret). */
function secretGivenIn(inv: Invocation): boolean {
  return stringOpt(inv, 'secret') !== undefined || stringOpt(inv, 'totpSecret') !== undefined;
}

/** Reads --qr and --code: how a TOTP factor being enrolled is shown and confirmed on the command line. */
export function totpIo(inv: Invocation, options: TotpIoOptions): TotpEnrolmentIo {
  const qr = parseQrTarget(stringOpt(inv, 'qr') ?? 'terminal');
  const code = stringOpt(inv, 'code');
  const { out, ctx } = inv;
  // A code that came with the command for a secret given with it was made in the app beforehand:
  // nothing needs scanning before it is checked, and nothing is shown (or written) for a code that
  // does not match. A new secret is shown first; its code (`-`, @FILE) is read after.
  const afterCode = options.verify && code !== undefined && secretGivenIn(inv);
  // Shown before anything is stored: standard output that cannot be written (a full disk, a reader
  // gone) stores nothing, and says so rather than that what the command did is done.
  const show = async (p: PreparedTotp) => {
    try {
      await draw(p);
    } catch (e) {
      if (!(e instanceof OutputFailedError)) throw e;
      // The QR code drawn to a file already would be of a secret never stored.
      if ((qr.kind === 'png' || qr.kind === 'svg') && ctx.remote === undefined) rmSync(qr.path, { force: true });
      throw new StoreError(`cannot write standard output: ${e.reason}; nothing was stored`, 'output_failed');
    }
  };
  const draw = async (p: PreparedTotp) => {
    if (qr.kind === 'png' || qr.kind === 'svg') {
      await writeQrFile(qr.kind, qr.path, p.uri);
      // The file is how the secret goes to its user: not also to this terminal's scrollback, or a
      // CI job's log, as recovery keys written with --output are not (--json still holds it).
      out.note(`wrote the QR code to ${qr.path} (mode 0600: it holds the secret, which is not shown here)`);
      if (!out.json) out.display(`Type:   TOTP, ${p.params.digits} digits, ${p.params.period} s, ${p.params.algorithm}`);
      return;
    }
    if (out.json) return;
    if (qr.kind === 'terminal') {
      const matrix = await qrMatrix(p.uri);
      // Through a tfactl service a client may not have files written (--qr png:FILE): a wider terminal, or the secret.
      const elsewhere = ctx.remote === undefined ? 'use --qr png:FILE' : 'widen the terminal and run it again';
      if (terminalWidth(matrix) > out.columns) {
        out.display(`The terminal is too narrow for the QR code (it needs ${terminalWidth(matrix)} columns): enter the secret or the URI in your app, or ${elsewhere}.`);
      } else {
        out.display(`Scan this QR code with your authenticator app:\n\n${renderTerminal(matrix, out.colour)}\n`);
        if (!out.colour) out.display(`(drawn without colour: it scans on dark terminal themes; on a light theme ${ctx.remote === undefined ? 'use --qr png:FILE' : 'enter the secret or the URI in your app'})`);
      }
    }
    out.display(`Secret: ${p.secret}\nURI:    ${p.uri}\nType:   TOTP, ${p.params.digits} digits, ${p.params.period} s, ${p.params.algorithm}`);
  };
  return {
    async present(p: PreparedTotp) {
      // Checked again here for a factor the realm asks for (user add without --tfa): a secret is
      // never shown for a code that cannot then be asked for, nor to no one.
      try {
        requireVerificationCode(inv, options);
        if (options.secretFlag === '--secret' || options.secretFlag === '--totp-secret') refuseUnseenTotpSecret(inv, options.secretFlag);
      } catch (e) {
        if (options.askedByRealm === undefined || !(e instanceof UsageError)) throw e;
        throw new UsageError(`${options.askedByRealm}: ${e.message}`, e.code);
      }
      if (!afterCode) await show(p);
    },
    async confirmed(p: PreparedTotp) {
      if (afterCode) await show(p);
    },
    async readCode() {
      requireVerificationCode(inv, options);
      if (code !== undefined) return secondFactorValue(inv, code, options.codeFlag, 'the verification code');
      return ctx.prompter.input('Verification code shown by the app:');
    },
    tries: code === undefined ? TERMINAL_TRIES : 1,
    retry: (message) => out.note(message),
  };
}

/**
 * Refuses to make a TOTP secret no one will see: a new one (not given with `secretFlag`) is shown
 * on standard output, unless its QR code goes to a file.
 */
export function refuseUnseenTotpSecret(inv: Invocation, secretFlag: '--secret' | '--totp-secret'): void {
  const qr = parseQrTarget(stringOpt(inv, 'qr') ?? 'terminal').kind;
  if (stringOpt(inv, secretFlag === '--secret' ? 'secret' : 'totpSecret') !== undefined || qr === 'png' || qr === 'svg') return;
  refuseDiscardedSecret(inv, 'the new TOTP secret and its QR code', `${inv.ctx.remote === undefined ? 'draw the code to a file with --qr png:FILE, ' : ''}give ${secretFlag} BASE32, or let them be shown`);
}

/** The TOTP options shared by `tfa add totp` and `user add --tfa totp`, parsed. */
export async function parseTotpRequestOptions(inv: Invocation, secretFlag = 'secret'): Promise<Omit<TotpRequest, 'description'>> {
  const secretText = secretOpt(inv, secretFlag, secretFlag === 'secret' ? '--secret' : '--totp-secret');
  const issuer = stringOpt(inv, 'issuer');
  const secret = secretText === undefined ? undefined : (await import('../../domain/totp.js')).parseSecret(secretText);
  const params = { digits: stringOpt(inv, 'digits'), period: stringOpt(inv, 'period'), algorithm: stringOpt(inv, 'algorithm') };
  // Each value checked now, before what a run without a terminal lacks is said: the realm's own
  // parameters, which fill in the rest, are checked against them once the store is open.
  parseTotpParams(params);
  return { issuer: issuer === undefined ? undefined : parseIssuer(issuer), secret, params };
}
