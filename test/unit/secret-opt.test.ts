import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { secretOpt } from '../../src/commands/options.js';
import { UsageError } from '../../src/errors.js';
import type { Invocation } from '../../src/invocation.js';

const dir = mkdtempSync(join(tmpdir(), 'tfactl-secret-opt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inv = (value: string | undefined) => ({ ctx: {}, opts: value === undefined ? {} : { secret: value } }) as unknown as Invocation;
const read = (value: string) => secretOpt(inv(value), 'secret', '--secret');
const oneLine = fc.string({ minLength: 1, maxLength: 80 }).filter((s) => !/[\r\n]/.test(s));
/** What a secret looks like once read: no surrounding whitespace, no byte-order mark. */
const core = oneLine.filter((s) => s.trim() === s && s !== '' && !s.startsWith('\uFEFF'));
const blank = fc.stringMatching(/^[ \t]{0,3}$/);
let n = 0;
const file = (content: string) => {
  const f = join(dir, `f${n++}`);
  writeFileSync(f, content);
  return f;
};
const errorOf = (value: string) => {
  try {
    read(value);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${value}`);
};

describe('secretOpt (@FILE)', () => {
  it('passes a value that does not start with @ through unchanged, and absence as undefined', () => {
    fc.assert(fc.property(oneLine.filter((s) => !s.startsWith('@')), (v) => read(v) === v));
    expect(secretOpt(inv(undefined), 'secret', '--secret')).toBeUndefined();
  });

  it('reads the one line of a file, without surrounding blanks, a byte-order mark or the line break', () => {
    fc.assert(
      fc.property(core, blank, blank, fc.constantFrom('', '\uFEFF'), fc.constantFrom('', '\n', '\r\n'), (v, before, after, bom, end) => {
        return read(`@${file(bom + before + v + after + end)}`) === v;
      }),
    );
  });

  it('refuses a file of more than one line, naming the file and never its content', () => {
    fc.assert(
      fc.property(core, core, (a, b) => {
        const f = file(`${a}\n${b}\n`);
        return errorOf(`@${f}`) === `the --secret file ${f} must hold one line`;
      }),
    );
  });

  it('refuses what is not a regular file without waiting: a FIFO, a device, a directory', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(errorOf(`@${fifo}`)).toBe(`the --secret file ${fifo} is not a regular file`);
    expect(errorOf('@/dev/zero')).toBe('the --secret file /dev/zero is not a regular file');
    expect(errorOf(`@${dir}`)).toBe(`the --secret file ${dir} is not a regular file`);
  });

  it('refuses a file larger than any secret, and a missing or empty one', () => {
    const big = file('A'.repeat(5000));
    expect(errorOf(`@${big}`)).toBe(`the --secret file ${big} is larger than 4096 bytes`);
    expect(errorOf(`@${dir}/missing`)).toBe(`cannot read the --secret file ${dir}/missing: no such file or directory (ENOENT)`);
    const empty = file(' \n');
    expect(errorOf(`@${empty}`)).toBe(`the --secret file ${empty} is empty`);
    expect(errorOf('@')).toBe('--secret @FILE needs a file name');
  });

  it('does not repeat a missing file\'s name that looks like a secret (the secret after an @ typed by mistake)', () => {
    for (const secret of ['JBSWY3DPEHPK3PXP', '0123456789abcdef0123456789abcdef', 'c2VjcmV0LWFwaS1rZXk=', 'bob!ci=Zm9vYmFyYmF6cXV4']) {
      expect(errorOf(`@${secret}`)).toBe(`cannot read the --secret file (a name of ${secret.length} characters, not repeated: is it the secret itself, after an @?): no such file or directory (ENOENT)`);
    }
    // A file's name as files are named is repeated (here, relative to the working directory).
    expect(errorOf('@no-such-file')).toBe('cannot read the --secret file no-such-file: no such file or directory (ENOENT)');
  });
});
