import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { secretOpt } from '../../src/commands/options.js';
import { UsageError } from '../../src/errors.js';
import type { Invocation } from '../../src/invocation.js';

const dir = mkdtempSync(join(tmpdir(), 'tfactl-secret-opt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inv = (value: string | undefined) => ({ opts: value === undefined ? {} : { secret: value } }) as unknown as Invocation;
const oneLine = fc.string({ minLength: 1, maxLength: 80 }).filter((s) => !/[\r\n]/.test(s));

describe('secretOpt (@FILE)', () => {
  it('passes a value that does not start with @ through unchanged, and absence as undefined', () => {
    fc.assert(fc.property(oneLine.filter((s) => !s.startsWith('@')), (v) => secretOpt(inv(v), 'secret', '--secret') === v));
    expect(secretOpt(inv(undefined), 'secret', '--secret')).toBeUndefined();
  });

  it('reads the one line of a file, with or without its line break', () => {
    let n = 0;
    fc.assert(
      fc.property(oneLine, fc.constantFrom('', '\n', '\r\n'), (v, end) => {
        const file = join(dir, `f${n++}`);
        writeFileSync(file, v + end);
        return secretOpt(inv(`@${file}`), 'secret', '--secret') === v;
      }),
    );
  });

  it('refuses a file of more than one line, naming the file and never its content', () => {
    let n = 0;
    fc.assert(
      fc.property(oneLine, oneLine, (a, b) => {
        const file = join(dir, `m${n++}`);
        writeFileSync(file, `${a}\n${b}`);
        try {
          secretOpt(inv(`@${file}`), 'secret', '--secret');
          return false;
        } catch (e) {
          return e instanceof UsageError && e.message === `the --secret file ${file} must hold one line`;
        }
      }),
    );
  });
});
