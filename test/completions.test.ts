import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Command, Option } from 'commander';
import { createRequire } from 'node:module';
import type { buildProgram as BuildProgram } from '../src/cli.js';
// @ts-expect-error: plain JavaScript, no declarations
import { generate } from '../scripts/completions.mjs';

// The command tree of the built bundle (what ships), typed as src/cli.ts's.
const buildProgram = (createRequire(import.meta.url)('../dist/tfactl.cjs') as { buildProgram: typeof BuildProgram }).buildProgram;

const ROOT = resolve(import.meta.dirname, '..');
const SCRIPT = join(ROOT, 'scripts/completions.mjs');
const BASH_FILE = join(ROOT, 'completions/tfactl.bash');
const ZSH_DIR = join(ROOT, 'completions');
const ZSH_FILE = join(ROOT, 'completions/_tfactl');
const FISH_FILE = join(ROOT, 'completions/tfactl.fish');

const bashText = readFileSync(BASH_FILE, 'utf8');
const zshText = readFileSync(ZSH_FILE, 'utf8');
const fishText = readFileSync(FISH_FILE, 'utf8');

const scratch = mkdtempSync(join(tmpdir(), 'tfactl-completions-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// ------------------------------------------------------------------------------------------------
// The command tree, read straight from commander (not through the generator).

interface CommandPath {
  readonly path: readonly string[];
  readonly subcommands: readonly string[];
  /** Long options offered there: its own and those of the commands above it (the global options). */
  readonly offered: readonly string[];
}

const program = buildProgram('0', async () => {});
const isHidden = (c: Command): boolean => Boolean((c as unknown as { _hidden?: boolean })._hidden);
const longOptions = (c: Command): string[] =>
  c.options.filter((o) => !o.hidden && o.long).map((o) => o.long as string);

function commandPaths(cmd: Command, path: string[] = [], above: string[] = ['--help']): CommandPath[] {
  const offered = [...new Set([...above, ...longOptions(cmd)])];
  const subs = cmd.commands.filter((c) => !isHidden(c));
  return [
    { path, subcommands: subs.map((c) => c.name()), offered },
    ...subs.flatMap((c) => commandPaths(c, [...path, c.name()], offered)),
  ];
}

const PATHS = commandPaths(program);
const GLOBAL_OPTIONS = ['--db', '--as', '--password-stdin', '--json', '--debug', '--version', '--help'];
const label = (p: CommandPath): string => ['tfactl', ...p.path].join(' ');

// ------------------------------------------------------------------------------------------------
// Shells

/** A shell that reads no user configuration and writes nothing outside the scratch directory. */
function shell(cmd: string, args: readonly string[]) {
  const home = join(scratch, 'home');
  mkdirSync(home, { recursive: true });
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: home, XDG_DATA_HOME: home, TERM: 'xterm', LANG: 'C.UTF-8' },
  });
  // A missing shell fails the test: scripts/test-peers.mjs (run by npm test) installs it.
  if (r.error) throw new Error(`cannot run ${cmd} (a test peer: see scripts/test-peers.mjs): ${r.error.message}`);
  return r;
}

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const SEP = '--end-of-reply--';

/** What bash's _tfactl puts in COMPREPLY for each command line (words, the last one being completed). */
function bashComplete(...lines: (readonly string[])[]): string[][] {
  const script = [
    `source ${sq(BASH_FILE)}`,
    'q() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _tfactl; printf "%s\\n" "${COMPREPLY[@]}"; echo ' + SEP + '; }',
    ...lines.map((words) => `q ${words.map(sq).join(' ')}`),
  ].join('\n');
  const r = shell('bash', ['--norc', '--noprofile', '-c', script]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.split(`${SEP}\n`).slice(0, lines.length).map((s) => s.split('\n').filter(Boolean));
}

/** What fish offers (first column of `complete -C`) for each command line. */
function fishComplete(...lines: string[]): string[][] {
  const fq = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const script = [`source ${fq(FISH_FILE)}`, ...lines.map((l) => `complete -C ${fq(l)}; echo ${SEP}`)].join('\n');
  const r = shell('fish', ['--no-config', '-c', script]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout
    .split(`${SEP}\n`)
    .slice(0, lines.length)
    .map((s) => s.split('\n').filter(Boolean).map((l) => l.split('\t')[0] as string));
}

/**
 * What an interactive zsh lists (list-choices, bound to TAB) for each command line, through a
 * pseudo-terminal: the listing, one string per line typed. Each line is typed only once zle shows
 * the prompt: input typed before zle has set up the terminal can be thrown away.
 */
const ZSHRC = [
  `fpath=(${sq(ZSH_DIR)} $fpath)`,
  'autoload -Uz compinit && compinit -u -D',
  'bindkey "^I" list-choices',
  'stty rows 500 columns 250',
  'LISTMAX=10000',
  "PROMPT='ZLEREADY> '",
].join('\n');
const ZPTY = [
  'zmodload zsh/zpty',
  'local line out',
  'zpty z "ZDOTDIR=${(q)1} zsh -i"',
  'shift',
  "zpty -r z out '*ZLEREADY> *'",
  'for line in "$@"; do',
  `  zpty -w -n z "$line"$'\\t\\x15print END""MARK\\n'`,
  "  zpty -r z out '*ENDMARK*ZLEREADY> *'",
  `  print -r -- ${SEP}`,
  '  print -r -- $out',
  'done',
  'zpty -d z',
].join('\n');
function zshComplete(...lines: string[]): string[] {
  const zdotdir = join(scratch, 'zdotdir');
  mkdirSync(zdotdir, { recursive: true });
  writeFileSync(join(zdotdir, '.zshenv'), 'unsetopt GLOBAL_RCS\n'); // no /etc/zsh/zshrc
  writeFileSync(join(zdotdir, '.zshrc'), `${ZSHRC}\n`);
  const r = shell('zsh', ['-f', '-c', ZPTY, 'zsh', zdotdir, ...lines]);
  expect(r.status).toBe(0);
  return r.stdout
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n') // cursor movements end the listing's lines
    .replace(/\r/g, '')
    .split(`${SEP}\n`)
    .slice(1)
    .map((s) => s.replace(/print END""MARK[^]*$/, ''));
}

/** `text` has `word` standing alone (not as part of --no-admin when looking for --admin). */
const hasWord = (text: string, word: string): boolean =>
  new RegExp(`(?<![\\w-])${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(text);

// ------------------------------------------------------------------------------------------------

describe('completion files', () => {
  it('exist for every command of the tree (sanity check of the walk)', () => {
    expect(PATHS.map((p) => p.path.join(' '))).toEqual(
      expect.arrayContaining(['', 'init', 'user', 'user add', 'user modify', 'realm', 'realm set-enforce', 'audit']),
    );
    expect(PATHS[0]?.offered).toEqual(expect.arrayContaining(GLOBAL_OPTIONS));
  });

  it('mention every command and every long option in bash, zsh and fish', () => {
    for (const p of PATHS) {
      for (const [shellName, text] of [['bash', bashText], ['zsh', zshText], ['fish', fishText]] as const) {
        if (p.path.length) expect(text.includes(p.path.join(' ')), `${shellName}: ${label(p)}`).toBe(true);
        for (const name of p.subcommands) expect(hasWord(text, name), `${shellName}: ${label(p)} ${name}`).toBe(true);
        for (const flag of p.offered) {
          const found = shellName === 'fish' ? hasWord(text, `-l ${flag.slice(2)}`) : hasWord(text, flag);
          expect(found, `${shellName}: ${label(p)} ${flag}`).toBe(true);
        }
      }
    }
  });

  it('are up to date with the command tree (scripts/completions.mjs --check)', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('are reported stale, by name, when one differs from what would be generated', () => {
    const dir = join(scratch, 'generated');
    const write = spawnSync(process.execPath, [SCRIPT, '--dir', dir], { cwd: ROOT, encoding: 'utf8' });
    expect(write.status).toBe(0);
    const fish = join(dir, 'tfactl.fish');
    const dropped = readFileSync(fish, 'utf8').replace(/^complete .* -l admin .*\n/m, '');
    writeFileSync(fish, dropped);
    const check = spawnSync(process.execPath, [SCRIPT, '--check', '--dir', dir], { cwd: ROOT, encoding: 'utf8' });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('tfactl.fish is stale');
    expect(check.stderr).not.toContain('tfactl.bash');
  });

  it('follow the tree: a new command and flag appear, hidden ones do not', () => {
    const p = buildProgram('0', async () => {});
    const factor = p.command('factor').description('manage second factors');
    factor.command('enroll').description('enroll a factor').option('--label <text>', 'a name for it');
    factor.command('backdoor', { hidden: true }).description('not for you');
    factor.commands[0]?.addOption(new Option('--secret-flag', 'not shown').hideHelp());
    const files: Record<string, string> = generate(p);
    expect(Object.keys(files).sort()).toEqual(['_tfactl', 'tfactl.bash', 'tfactl.fish']);
    for (const text of Object.values(files)) {
      expect(text).toContain('factor enroll');
      expect(text).toMatch(/label/);
      expect(text).not.toContain('backdoor');
      expect(text).not.toContain('secret-flag');
    }
  });
});

describe('bash completion', () => {
  it('registers _tfactl for tfactl', () => {
    expect(bashText).toMatch(/^complete -F _tfactl tfactl$/m);
  });

  it('completes a partial subcommand name', () => {
    expect(bashComplete(['tfactl', 'us'])).toEqual([['user']]);
  });

  it('offers every subcommand of user', () => {
    const [reply] = bashComplete(['tfactl', 'user', '']);
    expect(reply).toEqual(expect.arrayContaining(['add', 'list', 'show', 'modify', 'passwd', 'delete']));
  });

  it('completes a flag of user add', () => {
    expect(bashComplete(['tfactl', 'user', 'add', '--ad'])).toEqual([['--admin']]);
  });

  it('offers the global options with those of the command', () => {
    const [reply] = bashComplete(['tfactl', 'realm', 'delete', '--']);
    expect(reply).toEqual(expect.arrayContaining(['--force', ...GLOBAL_OPTIONS]));
    expect(reply).not.toContain('--admin');
  });

  it('offers the choices of the <type> argument of realm set-enforce', () => {
    const [afterRealm, partial, forRealm] = bashComplete(
      ['tfactl', 'realm', 'set-enforce', 'corp', ''],
      ['tfactl', 'realm', 'set-enforce', '--digits', '8', 'corp', 't'],
      ['tfactl', 'realm', 'set-enforce', ''],
    );
    expect(afterRealm).toEqual(['none', 'totp', 'yubico']);
    expect(partial).toEqual(['totp']);
    expect(forRealm).toEqual([]); // the first argument is a realm name: nothing to offer
  });

  it('offers file names for --db, in any spelling', () => {
    const dir = join(scratch, 'db');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'store.db'), '');
    const [spaced, equalsSplit, equalsWord] = bashComplete(
      ['tfactl', '--db', `${dir}/st`],
      // bash splits --db=VALUE at '=' (COMP_WORDBREAKS) ...
      ['tfactl', 'user', 'list', '--db', '=', `${dir}/st`],
      // ... unless '=' was taken out of COMP_WORDBREAKS
      ['tfactl', `--db=${dir}/st`],
    );
    expect(spaced).toEqual([`${dir}/store.db`]);
    expect(equalsSplit).toEqual([`${dir}/store.db`]);
    expect(equalsWord).toEqual([`--db=${dir}/store.db`]);
  });

  it('offers nothing for the value of other options', () => {
    expect(bashComplete(['tfactl', '--as', ''], ['tfactl', 'user', 'add', '--email', ''], ['tfactl', 'audit', '--limit', ''])).toEqual([[], [], []]);
  });

  it('skips option values when finding the command', () => {
    const [reply] = bashComplete(['tfactl', '--db', 'realm', '--as', 'user', 'realm', '']);
    expect(reply).toEqual(expect.arrayContaining(['add', 'set-enforce']));
    expect(reply).not.toContain('passwd');
  });

  it('offers every subcommand and every flag of every command', () => {
    const lines = PATHS.flatMap((p) => [
      ['tfactl', ...p.path, ''],
      ['tfactl', ...p.path, '--'],
    ]);
    const replies = bashComplete(...lines);
    PATHS.forEach((p, i) => {
      expect(replies[2 * i], `subcommands of ${label(p)}`).toEqual(expect.arrayContaining([...p.subcommands]));
      expect(replies[2 * i + 1], `options of ${label(p)}`).toEqual(expect.arrayContaining([...p.offered]));
    });
  });
});

describe('zsh completion', () => {
  it('is a #compdef function for tfactl that zsh accepts', () => {
    expect(zshText.startsWith('#compdef tfactl\n')).toBe(true);
    expect(zshText).toContain('_arguments');
    expect(zshText).toContain('_describe');
    const syntax = shell('zsh', ['-n', ZSH_FILE]);
    expect(syntax.stderr).toBe('');
    expect(syntax.status).toBe(0);
    // Found on $fpath, compinit binds it to tfactl.
    const bound = shell('zsh', ['-f', '-c', `fpath=(${sq(ZSH_DIR)} $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[tfactl]`]);
    expect(bound.stdout.trim()).toBe('_tfactl');
  });

  it('offers subcommands, flags and argument choices with descriptions', () => {
    const [us, user, admin, choices, db] = zshComplete(
      'tfactl us',
      'tfactl user ',
      'tfactl user add --ad',
      'tfactl realm set-enforce corp ',
      `tfactl --db ${scratch}/`,
    );
    expect(us).toMatch(/^user +-- manage users$/m);
    expect(user).toMatch(/^add +-- add a user$/m);
    expect(user).toMatch(/^passwd +-- set a user's password$/m);
    expect(admin).toMatch(/^--admin +-- make the user an admin$/m);
    expect(choices).toMatch(/\bnone +totp +yubico\b/);
    expect(db).toMatch(/(^|\s)home\/(\s|$)/m);
  });

  it('offers every subcommand and every flag of every command', () => {
    const lines = PATHS.flatMap((p) => [[...['tfactl', ...p.path], ''].join(' '), [...['tfactl', ...p.path], '--'].join(' ')]);
    const listings = zshComplete(...lines);
    PATHS.forEach((p, i) => {
      for (const name of p.subcommands) expect(hasWord(listings[2 * i] ?? '', name), `${label(p)} ${name}`).toBe(true);
      for (const flag of p.offered) expect(hasWord(listings[2 * i + 1] ?? '', flag), `${label(p)} ${flag}`).toBe(true);
    });
  });

  it('does not offer --no-admin once --admin is given', () => {
    const [listing] = zshComplete('tfactl user modify --admin --');
    expect(hasWord(listing ?? '', '--email')).toBe(true);
    expect(listing).not.toContain('--no-admin');
  });
});

describe('fish completion', () => {
  it('is a fish script of complete -c tfactl lines that fish accepts', () => {
    expect(fishText).toMatch(/^complete -c tfactl /m);
    const syntax = shell('fish', ['--no-config', '--no-execute', FISH_FILE]);
    expect(syntax.stderr).toBe('');
    expect(syntax.status).toBe(0);
  });

  it('offers subcommands, flags, argument choices and file names for --db', () => {
    const dir = join(scratch, 'fishdb');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'store.db'), '');
    const [us, user, admin, choices, forRealm, db, as, afterValue] = fishComplete(
      'tfactl us',
      'tfactl user ',
      'tfactl user add --ad',
      'tfactl realm set-enforce corp ',
      'tfactl realm set-enforce ',
      `tfactl --db ${dir}/st`,
      'tfactl --as ',
      'tfactl --db realm realm ',
    );
    expect(us).toEqual(['user']);
    expect(user).toEqual(expect.arrayContaining(['add', 'list', 'show', 'modify', 'passwd', 'delete']));
    expect(admin).toEqual(['--admin']);
    expect(choices).toEqual(['none', 'totp', 'yubico']);
    expect(forRealm).toEqual([]);
    expect(db).toEqual([`${dir}/store.db`]);
    expect(as).toEqual([]);
    expect(afterValue).toEqual(expect.arrayContaining(['add', 'set-enforce']));
    expect(afterValue).not.toContain('passwd');
  });

  it('offers every subcommand and every flag of every command', () => {
    const lines = PATHS.flatMap((p) => [[...['tfactl', ...p.path], ''].join(' '), [...['tfactl', ...p.path], '--'].join(' ')]);
    const replies = fishComplete(...lines);
    PATHS.forEach((p, i) => {
      expect(replies[2 * i], `subcommands of ${label(p)}`).toEqual(expect.arrayContaining([...p.subcommands]));
      expect(replies[2 * i + 1], `options of ${label(p)}`).toEqual(expect.arrayContaining([...p.offered]));
    });
  });
});
