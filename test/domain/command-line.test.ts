import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shellWord, tfactlLine } from '../../src/domain/command-line.js';

/** The words /bin/sh makes of each line after `tfactl` (dash, an independent reader). */
function wordsBySh(lines: readonly string[]): string[][] {
  const script = ['f() { for w in "$@"; do printf "%s\\037" "$w"; done; printf "\\036"; }', ...lines.map((l) => `f ${l.slice('tfactl '.length)}`)].join('\n');
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' } });
  if (r.status !== 0) throw new Error(`/bin/sh: ${r.stderr}`);
  return r.stdout.split('\x1e').slice(0, -1).map((l) => l.split('\x1f').slice(0, -1));
}

describe('tfactlLine', () => {
  it('suggests plain ids as they are, options after them', () => {
    expect(tfactlLine('user passwd', ['alice@local'])).toBe('tfactl user passwd alice@local');
    expect(tfactlLine('user modify', ['alice@local'], '--expire never')).toBe('tfactl user modify alice@local --expire never');
  });

  it('quotes what a shell would expand, and puts -- before an id that starts with -', () => {
    expect(tfactlLine('user passwd', ['$HOME@local'])).toBe("tfactl user passwd '$HOME@local'");
    expect(tfactlLine('user modify', ['-eve@local'], '--enable')).toBe('tfactl user modify --enable -- -eve@local');
    expect(tfactlLine('user passwd', ['--as=alice@local'])).toBe('tfactl user passwd -- --as=alice@local');
  });

  it('is read back by /bin/sh as exactly the words meant, whatever the id', () => {
    // What a user id may hold: anything but spaces, controls and : / @ \ , ; " ' ` < > | (userid.ts).
    const idChar = fc.constantFrom(...'abcXYZ019-_.$*?&()[]{}!#~%^=+é王'.split(''), '-', '$', '*');
    const cases = fc.sample(fc.tuple(fc.string({ unit: idChar, minLength: 1, maxLength: 12 }), fc.constantFrom('', '--enable', '--otp OTP')), { numRuns: 300, seed: 7 });
    const lines = cases.map(([name, options]) => tfactlLine('user modify', [`${name}@local`], options));
    const read = wordsBySh(lines);
    cases.forEach(([name, options], i) => {
      const id = `${name}@local`;
      const opts = options === '' ? [] : options.split(' ');
      expect(read[i]).toEqual(['user', 'modify', ...(id.startsWith('-') ? [...opts, '--', id] : [id, ...opts])]);
    });
  });

  it('single-quotes a quote as the shell needs it', () => {
    expect(wordsBySh([`tfactl ${shellWord("it's")}`])).toEqual([["it's"]]);
  });
});
