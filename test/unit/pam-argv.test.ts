import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import type { Ctx } from '../../src/context.js';
import { runPam } from '../../src/pam-main.js';
import { parsePamArgv } from '../../src/pam-argv.js';
import type { ParsedCommand } from '../../src/remote/client.js';

/** What commander's command tree gives the leaf for `argv`, or 'refused' (a usage error, help). */
async function commanderReads(argv: readonly string[]): Promise<ParsedCommand | 'refused'> {
  let seen: ParsedCommand | undefined;
  const quiet = { stdout: { write: () => true, isTTY: false, columns: undefined }, stderr: { write: () => true, isTTY: false } };
  const program = buildProgram('0.0.0', async (_load, args, opts, command) => void (seen = { command, args: [...args], opts: { ...opts } }), quiet);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch {
    return 'refused';
  }
  return seen ?? 'refused';
}

const pick = <T>(items: readonly T[]) => fc.subarray([...items]).chain((xs) => fc.shuffledSubarray(xs, { minLength: xs.length, maxLength: xs.length }));
const value = fc.constantFrom('/run/tfactl/tfactl.sock', '@/etc/tfactl/pam.token', 'corp', '/var/lib/tfactl/tfactl.db', 'x y', '');
/** Lines as pam config prints them, and every order and subset of their options. */
const pamLine = fc
  .tuple(pick(['--server', '--token', '--db', '--json', '--debug']), fc.constantFrom('check', 'prompt'), pick(['--realm', '--password', '--nullok']), fc.array(value, { minLength: 8, maxLength: 8 }))
  .map(([globals, sub, options, values]) => {
    const withValue = (flag: string) => (['--server', '--token', '--db', '--realm'].includes(flag) ? [flag, values.pop() as string] : [flag]);
    return [...globals.flatMap(withValue), 'pam', sub, ...options.flatMap(withValue)];
  });
const word = fc.constantFrom('pam', 'check', 'prompt', 'config', 'sshd', '--server', '--token', '--db', '--as', 'alice', '--json', '--debug', '--realm', '--realm=corp', '--password', '--password-stdin', '--nullok', '--help', '-h', '--version', '--', '-x', 'corp', '@f', '/s', '-', '');
/** Such lines with a word put in, replaced or taken out somewhere, and lines of such words alone. */
const nearLine = fc.oneof(
  fc.tuple(pamLine, fc.noBias(fc.nat(1000)), word, fc.constantFrom('insert', 'replace', 'remove')).map(([argv, at, w, how]) => {
    const i = at % (argv.length + 1);
    return how === 'insert' ? [...argv.slice(0, i), w, ...argv.slice(i)] : [...argv.slice(0, i), ...(how === 'replace' ? [w] : []), ...argv.slice(i + 1)];
  }),
  fc.array(word, { maxLength: 10 }),
);

describe('the PAM lines read without the command tree', () => {
  it('reads every line pam config prints, in any order of its options, exactly as commander does', async () => {
    await fc.assert(
      fc.asyncProperty(pamLine, async (argv) => {
        const parsed = parsePamArgv(argv);
        expect(parsed).not.toBeNull();
        expect(parsed).toEqual(await commanderReads(argv));
      }),
      { numRuns: 300 },
    );
  });

  it('reads any other line as commander does, or leaves it to commander', async () => {
    await fc.assert(
      fc.asyncProperty(nearLine, async (argv) => {
        const parsed = parsePamArgv(argv);
        if (parsed !== null) expect(parsed).toEqual(await commanderReads(argv));
      }),
      { numRuns: 1000 },
    );
  });

  it('leaves to commander what it would refuse or read another way', () => {
    for (const argv of [
      ['pam', 'check', '--help'],
      ['pam', 'prompt', '--nullok', '--nullok'],
      ['pam', 'check', '--realm'],
      ['pam', 'check', '--realm', '--nullok'],
      ['pam', 'check', '--realm=corp'],
      ['pam', 'check', '--realm', 'a', '--realm', 'b'],
      ['pam', 'check', 'extra'],
      ['pam', 'check', '--server', '/s'],
      ['--as', 'alice', 'pam', 'check'],
      ['pam', 'config'],
      ['pam'],
      [],
    ]) {
      expect(parsePamArgv(argv), argv.join(' ')).toBeNull();
    }
    expect(parsePamArgv(['--server', '/run/tfactl/tfactl.sock', '--token', '@/etc/tfactl/pam.token', 'pam', 'check', '--realm', 'corp', '--nullok'])).toEqual({
      command: 'pam check',
      args: [],
      opts: { server: '/run/tfactl/tfactl.sock', token: '@/etc/tfactl/pam.token', realm: 'corp', nullok: true },
    });
  });
});

describe('the PAM entry (dist/tfactl-pam.cjs)', () => {
  const ctxWith = (tty: { stdin?: boolean; stdout?: boolean; stderr?: boolean }, env: Record<string, string> = {}): Ctx => {
    const unused = () => {
      throw new Error('not used when the line is handed back');
    };
    return {
      io: {
        stdout: { write: unused, isTTY: tty.stdout === true, columns: undefined },
        stderr: { write: unused, isTTY: tty.stderr === true },
        stdinIsTTY: tty.stdin === true,
        stdinChunks: unused,
        readLine: unused,
        onInterrupt: unused,
      },
      prompter: { password: unused, input: unused, confirm: unused },
      clock: { nowSeconds: () => 0, sleep: unused },
      random: { bytes: unused },
      env,
      uid: 0,
      home: '/root',
      hostname: 'host',
      openStore: unused,
    };
  };
  const line = ['--server', '/run/tfactl/tfactl.sock', '--token', '@/etc/tfactl/pam.token', 'pam', 'check'];

  it('hands back a line on a terminal or with FORCE_COLOR (colours and prompts are main()\'s), on the store, or not PAM\'s', async () => {
    for (const tty of [{ stdin: true }, { stdout: true }, { stderr: true }]) expect(await runPam(line, ctxWith(tty))).toBeUndefined();
    expect(await runPam(line, ctxWith({}, { FORCE_COLOR: '1' }))).toBeUndefined();
    expect(await runPam(['--db', '/var/lib/tfactl/tfactl.db', 'pam', 'check'], ctxWith({}))).toBeUndefined();
    expect(await runPam(['--server', '/s', 'user', 'list'], ctxWith({}))).toBeUndefined();
  });
});
