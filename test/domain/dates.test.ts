import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dateOf, formatTime, isExpired, parseDate, spanText, startOfDate } from '../../src/domain/dates.js';
import { UsageError } from '../../src/errors.js';

describe('parseDate', () => {
  it('accepts real calendar dates', () => {
    expect(parseDate('2024-02-29')).toBe('2024-02-29');
    expect(parseDate('1970-01-01')).toBe('1970-01-01');
  });

  it.each([
    ['2023-02-29', 'there is no such day in that month'],
    ['2024-04-31', 'there is no such day in that month'],
    ['2024-13-01', 'there is no such month'],
    ['1969-12-31', 'dates start in 1970'],
    ['2024-1-1', 'expected a date as YYYY-MM-DD'],
  ])('says why %j is no date', (input, why) => {
    expect(() => parseDate(input, 'expiry date')).toThrow(`invalid expiry date "${input}": ${why}`);
  });

  it.each(['2023-02-29', '2024-13-01', '2024-00-10', '2024-1-1', '24-01-01', '1969-12-31', 'tomorrow', '2024-01-01T00:00', ''])(
    'rejects %j',
    (input) => expect(() => parseDate(input)).toThrow(UsageError),
  );

  it('round-trips every date between 1970 and 9999', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true }), (d) => {
        const text = d.toISOString().slice(0, 10);
        expect(parseDate(text)).toBe(text);
        expect(dateOf(startOfDate(text))).toBe(text);
      }),
    );
  });

  it('never throws anything but a UsageError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (input) => {
        try {
          parseDate(input);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
    );
  });
});

describe('isExpired', () => {
  const day = startOfDate('2026-11-27');
  it('lets an account act through the whole of its last day (UTC)', () => {
    expect(isExpired('2026-11-27', day)).toBe(false);
    expect(isExpired('2026-11-27', day + 86_399)).toBe(false);
    expect(isExpired('2026-11-27', day + 86_400)).toBe(true);
    expect(isExpired(null, day)).toBe(false);
  });
});

describe('formatTime', () => {
  it('prints UTC to the second', () => {
    expect(formatTime(0)).toBe('1970-01-01 00:00:00Z');
  });
});

describe('spanText', () => {
  it('says a length of time in the largest unit that holds it whole', () => {
    expect([1, 90, 60, 600, 900, 3600, 5400, 7200].map(spanText)).toEqual(['1 second', '90 seconds', '1 minute', '10 minutes', '15 minutes', '1 hour', '90 minutes', '2 hours']);
  });
});
