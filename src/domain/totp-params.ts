import { UsageError } from '../errors.js';
import { checkText } from './text.js';
import { quote } from './userid.js';

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpParams {
  readonly algorithm: TotpAlgorithm;
  /** Proxmox allows 6 to 8; authenticator apps commonly show 6 or 8. */
  readonly digits: 6 | 7 | 8;
  /** Seconds per step. */
  readonly period: number;
}

/** What authenticator apps assume; Google Authenticator ignores anything else. */
export const DEFAULT_TOTP_PARAMS: TotpParams = { algorithm: 'SHA1', digits: 6, period: 30 };
const ALGORITHMS: readonly TotpAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];

export interface TotpParamsInput {
  readonly digits?: string | undefined;
  readonly period?: string | undefined;
  readonly algorithm?: string | undefined;
}

/** The periods tfactl takes, in seconds (Proxmox's too). */
export const MIN_PERIOD = 10;
export const MAX_PERIOD = 300;

/**
 * How far ahead of this host's clock a TOTP step from elsewhere (a backup, Proxmox's last-count)
 * may be: a host whose clock ran ahead wrote it. Beyond, it would refuse every code of the factor
 * until then (and the replay ledger keeps it for its secret).
 */
export const STEP_SLACK_SECONDS = 86_400;

/** The latest step a TOTP factor of `period` seconds may have been used at, at `now`: see STEP_SLACK_SECONDS. */
export const latestPlausibleStep = (now: number, period: number): number => Math.floor((now + STEP_SLACK_SECONDS) / period);

/** Parses TOTP parameters (digits 6 to 8, period 10 to 300 s, SHA1/SHA256/SHA512); missing ones from `base`. */
export function parseTotpParams(input: TotpParamsInput, base: TotpParams = DEFAULT_TOTP_PARAMS): TotpParams {
  const digits = input.digits ?? String(base.digits);
  if (digits !== '6' && digits !== '7' && digits !== '8') throw new UsageError(`invalid digits ${quote(digits)}: expected 6, 7 or 8`, 'invalid_totp');
  const periodText = input.period ?? String(base.period);
  if (!/^[0-9]{2,3}$/.test(periodText) || Number(periodText) < MIN_PERIOD || Number(periodText) > MAX_PERIOD) {
    throw new UsageError(`invalid period ${quote(periodText)}: expected 10 to 300 seconds`, 'invalid_totp');
  }
  const algorithm = (input.algorithm ?? base.algorithm).toUpperCase().replace('-', '');
  if (!ALGORITHMS.includes(algorithm as TotpAlgorithm)) {
    throw new UsageError(`invalid algorithm ${quote(input.algorithm ?? '')}: expected SHA1, SHA256 or SHA512`, 'invalid_totp');
  }
  return { digits: Number(digits) as TotpParams['digits'], period: Number(periodText), algorithm: algorithm as TotpAlgorithm };
}

export function describeTotpParams(p: TotpParams): string {
  return `${p.digits} digits, ${p.period}s, ${p.algorithm}`;
}

export function sameTotpParams(a: TotpParams, b: TotpParams): boolean {
  return a.algorithm === b.algorithm && a.digits === b.digits && a.period === b.period;
}

/**
 * An issuer as authenticator apps show it (`--issuer`, the `totp.issuer` setting): 1 to 64
 * characters of one line, and no colon, which the Key URI Format keeps for between the issuer and
 * the account in the label (apps that split there would show another issuer, or refuse the code).
 */
export function parseIssuer(input: string, code = 'invalid_issuer'): string {
  checkText(input, 'issuer', 64, code);
  if (input.trim().length === 0 || input.includes(':')) throw new UsageError('invalid issuer: 1 to 64 characters, not only blanks, no colon or control characters', code);
  return input;
}
