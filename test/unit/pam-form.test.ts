import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { parsePamForm } from '../../src/commands/serve/pam-form.js';
import { UsageError } from '../../src/errors.js';

/** The options commander gives the leaf for `argv`, or 'refused'. */
async function commanderOptions(argv: readonly string[]): Promise<Record<string, unknown> | 'refused'> {
  let seen: Record<string, unknown> | undefined;
  const quiet = { stdout: { write: () => true, isTTY: false, columns: undefined }, stderr: { write: () => true, isTTY: false } };
  const program = buildProgram('0.0.0', async (_load, _args, opts) => void (seen = { ...opts }), quiet);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch {
    return 'refused';
  }
  return seen ?? 'refused';
}

/** Text as a shell variable or a file may hold it (what curl --data-urlencode sends). */
const text = fc.string({ unit: 'binary', maxLength: 40 });
const fields = fc.record(
  { user: text, service: text, rhost: text, tty: text, type: text, realm: text, answer: text, nullok: fc.constant('1'), password: fc.constant('1') },
  { requiredKeys: [] },
);

describe('the form of POST /api/v1/pam/check and /prompt', () => {
  it('gives back every field as sent, whatever it holds, and commander reads the realm as sent', async () => {
    await fc.assert(
      fc.asyncProperty(fields, async (sent) => {
        const form = parsePamForm(new URLSearchParams(sent).toString(), 'check');
        expect(form.env).toEqual(
          Object.fromEntries(
            Object.entries({ PAM_USER: sent.user, PAM_SERVICE: sent.service, PAM_RHOST: sent.rhost, PAM_TTY: sent.tty, PAM_TYPE: sent.type }).filter(([, v]) => v !== undefined),
          ),
        );
        expect(form.answer).toBe(sent.answer ?? '');
        expect(form.token).toBeUndefined();
        const opts = await commanderOptions(form.args);
        expect(opts).toEqual({ ...(sent.realm !== undefined && { realm: sent.realm }), ...(sent.nullok && { nullok: true }), ...(sent.password && { password: true }) });
      }),
      { numRuns: 300 },
    );
  });

  it('reads the token as --token @FILE reads its file: a byte-order mark and blanks around it dropped', () => {
    const token = 'pamadmin@corp!pam=0123456789abcdef0123456789abcdef';
    for (const file of [token, `${token}\n`, `\uFEFF${token}\r\n`, `  ${token}\t\n\n`]) {
      expect(parsePamForm(new URLSearchParams({ token: file }).toString(), 'prompt').token).toBe(token);
    }
    expect(() => parsePamForm('token=%0A', 'check')).toThrow(/the field token is empty/);
    expect(() => parsePamForm(`token=a%0Ab`, 'check')).toThrow(/the field token must hold one line/);
  });

  it('takes nullok for prompt too: the prompt says what it lets through', () => {
    expect(parsePamForm('user=bob&nullok=1', 'prompt').args).toEqual(['pam', 'prompt', '--nullok']);
  });

  it('refuses an unknown field, one given twice, a flag other than 1, and what prompt does not take', () => {
    const cases: [string, 'check' | 'prompt', RegExp][] = [
      ['user=alice&db=%2Fx', 'check', /unknown field "db" for pam check/],
      ['user=alice&user=bob', 'check', /the field user is given twice/],
      ['nullok=true', 'check', /the field nullok is 1 or left out/],
      ['password=', 'check', /the field password is 1 or left out/],
      ['answer=123456', 'prompt', /unknown field "answer" for pam prompt/],
      // A password and code sent without answer= are a field's name: not repeated.
      ['user=alice&hunter2%20123456', 'check', /^unknown field of 14 characters for pam check/],
    ];
    for (const [body, command, message] of cases) expect(() => parsePamForm(body, command), body).toThrow(message);
  });

  it('meets any body with a form or a usage error, never anything else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.array(fc.constantFrom('user=a', 'realm=', '&', '=', '%', '%0', '%ZZ', 'token=%FF', 'answer=%00', 'nullok=1', 'type'), { maxLength: 8 }).map((p) => p.join(''))), fc.constantFrom('check' as const, 'prompt' as const), (body, command) => {
        try {
          const form = parsePamForm(body, command);
          expect(form.args.slice(0, 2)).toEqual(['pam', command]);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
