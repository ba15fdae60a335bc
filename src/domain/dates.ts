import { UsageError } from '../errors.js';
import { quote } from './userid.js';

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses a calendar date `YYYY-MM-DD` (a real date, 1970 to 9999) and returns it unchanged. */
export function parseDate(input: string, what = 'date'): string {
  const m = DATE_RE.exec(input);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const t = new Date(Date.UTC(y, mo - 1, d));
    if (y >= 1970 && t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d) {
      return input;
    }
    // The right shape, but no day of the calendar tfactl keeps.
    const why = y < 1970 ? 'dates start in 1970' : mo < 1 || mo > 12 ? 'there is no such month' : 'there is no such day in that month';
    throw new UsageError(`invalid ${what} ${quote(input)}: ${why}`, 'invalid_date');
  }
  throw new UsageError(`invalid ${what} ${quote(input)}: expected a date as YYYY-MM-DD`, 'invalid_date');
}

/** Seconds in a calendar day (UTC has no daylight saving). */
export const DAY_SECONDS = 86_400;

/** The UTC calendar date of an epoch time, as `YYYY-MM-DD`. */
export function dateOf(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 10);
}

/** Epoch seconds at the start (00:00 UTC) of a `YYYY-MM-DD` date. */
export function startOfDate(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / 1000;
}

/**
 * An account with expiry date D may act through the whole of D (UTC) and is expired from the day
 * after.
 */
export function isExpired(expire: string | null, nowSeconds: number): boolean {
  return expire !== null && dateOf(nowSeconds) > expire;
}

/** Formats epoch seconds for people: `2026-11-27 20:52:17Z`. */
export function formatTime(epochSeconds: number): string {
  return isoTime(epochSeconds).replace('T', ' ');
}

/** A length of time for people: `15 minutes`, `2 hours`, `90 seconds`. */
export function spanText(seconds: number): string {
  const [n, unit] = seconds >= 3600 && seconds % 3600 === 0 ? [seconds / 3600, 'hour'] : seconds >= 60 && seconds % 60 === 0 ? [seconds / 60, 'minute'] : [seconds, 'second'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/**
 * How far in the future a kept session or a pending challenge may have been made, as far as this
 * host's clock goes (hosts sharing a store disagree a little; Proxmox allows its tickets 300 s).
 * One made later still was made while a clock ran ahead: once the clock is set back it would last
 * as long again, so it no longer works.
 */
export const CLOCK_SKEW_SECONDS = 300;

/** 9999-12-31T23:59:59Z, in epoch seconds: the last second a calendar date (YYYY-MM-DD) can show. */
export const LAST_SECOND = 253_402_300_799;

/** Whether `value` is a time tfactl keeps: whole epoch seconds from 1970 to the end of 9999. */
export function isStoredTime(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= LAST_SECOND;
}

/** The latest time, in epoch seconds, a JavaScript Date can hold (year 275760); as far before 1970 the earliest. */
export const MAX_EPOCH_SECONDS = 8.64e12;

/** Epoch seconds as an ISO 8601 UTC time, to the second: `2026-11-27T20:52:17Z` (what --json shows). */
export function isoTime(epochSeconds: number): string {
  // toISOString always ends in `.sssZ`; slicing is half the cost of a regular expression, which
  // shows over a listing of 200,000 rows.
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, -5)}Z`;
}
