import { SETTINGS } from '../src/domain/settings.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, TempStore } from './e2e/harness.js';
import { type Command, Option } from 'commander';
import { createRequire } from 'node:module';
import type { buildProgram as BuildProgram } from '../src/cli.js';
// @ts-expect-error: plain JavaScript, no declarations
import { generate, NEW_USER_COMMANDS, OPTION_VALUES } from '../scripts/completions.mjs';

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
const BIN_DIR = join(scratch, 'bin');
mkdirSync(BIN_DIR);
symlinkSync(BIN, join(BIN_DIR, 'tfactl'));
const SHELL_PATH = `${BIN_DIR}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
const NO_STORE = join(scratch, 'no-store', 'tfactl.db');

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

/**
 * A shell that reads no user configuration and writes nothing outside the scratch directory.
 * `tfactl` on its PATH is the built one, as installed, for the scripts to ask for ids; the store
 * it reads does not exist unless `env` names one.
 */
function shell(cmd: string, args: readonly string[], env: Readonly<Record<string, string>> = {}) {
  const home = join(scratch, 'home');
  mkdirSync(home, { recursive: true });
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: 60_000,
    // No store unless `env` names one (as root the default would be the machine's /var/lib/tfactl).
    env: { PATH: SHELL_PATH, HOME: home, XDG_CONFIG_HOME: home, XDG_DATA_HOME: home, TERM: 'xterm', LANG: 'C.UTF-8', TFACTL_DB: NO_STORE, ...env },
  });
  // A missing shell fails the test: scripts/test-peers.mjs (run by npm test) installs it.
  if (r.error) throw new Error(`cannot run ${cmd} (a test peer: see scripts/test-peers.mjs): ${r.error.message}`);
  return r;
}

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const SEP = '--end-of-reply--';

/**
 * What bash's _tfactl puts in COMPREPLY for each command line (words, the last one being
 * completed), split as given (test/completions.test.ts's interactive bash splits them as readline does).
 */
function bashComplete(...lines: (readonly string[])[]): string[][] {
  return bashCompleteWith({}, ...lines);
}
function bashCompleteWith(options: { env?: Record<string, string>; file?: string; prelude?: string }, ...lines: (readonly string[])[]): string[][] {
  const script = [
    ...(options.prelude === undefined ? [] : [options.prelude]),
    `source ${sq(options.file ?? BASH_FILE)}`,
    'q() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _tfactl; printf "%s\\n" "${COMPREPLY[@]}"; echo ' + SEP + '; }',
    ...lines.map((words) => `q ${words.map(sq).join(' ')}`),
  ].join('\n');
  const r = shell('bash', ['--norc', '--noprofile', '-c', script], options.env);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.split(`${SEP}\n`).slice(0, lines.length).map((s) => s.split('\n').filter(Boolean));
}

/** What fish offers (first column of `complete -C`) for each command line. */
function fishComplete(...lines: string[]): string[][] {
  return fishCompleteWith({}, ...lines).map((reply) => reply.map((l) => l.split('\t')[0] as string));
}
/** What fish offers for each command line: each candidate, a tab and its description if it has one. */
function fishCompleteWith(env: Record<string, string>, ...lines: string[]): string[][] {
  const fq = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const script = [`source ${fq(FISH_FILE)}`, ...lines.map((l) => `complete -C ${fq(l)}; echo ${SEP}`)].join('\n');
  const r = shell('fish', ['--no-config', '-c', script], env);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout
    .split(`${SEP}\n`)
    .slice(0, lines.length)
    .map((s) => s.split('\n').filter(Boolean));
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
  return zshCompleteWith({}, ...lines);
}
function zshCompleteWith(env: Record<string, string>, ...lines: string[]): string[] {
  const zdotdir = join(scratch, 'zdotdir');
  mkdirSync(zdotdir, { recursive: true });
  writeFileSync(join(zdotdir, '.zshenv'), 'unsetopt GLOBAL_RCS\n'); // no /etc/zsh/zshrc
  writeFileSync(join(zdotdir, '.zshrc'), `${ZSHRC}\n`);
  const r = shell('zsh', ['-f', '-c', ZPTY, 'zsh', zdotdir, ...lines], env);
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

/** What a shell's script does not mention: commands (`tfactl realm add`) and flags (`tfactl audit --user`). */
function unmentioned(shellName: 'bash' | 'zsh' | 'fish', text: string): string[] {
  const missing: string[] = [];
  for (const p of PATHS) {
    if (p.path.length && !text.includes(p.path.join(' '))) missing.push(label(p));
    for (const name of p.subcommands) if (!hasWord(text, name)) missing.push(`${label(p)} ${name}`);
    for (const flag of p.offered) {
      const found = shellName === 'fish' ? hasWord(text, `-l ${flag.slice(2)}`) : hasWord(text, flag);
      if (!found) missing.push(`${label(p)} ${flag}`);
    }
  }
  return missing;
}

// ------------------------------------------------------------------------------------------------

describe('completion files', () => {
  it('exist for every command of the tree (sanity check of the walk)', () => {
    expect(PATHS.map((p) => p.path.join(' '))).toEqual(
      expect.arrayContaining(['', 'init', 'user', 'user add', 'user modify', 'realm', 'realm set-enforce', 'audit']),
    );
    expect(PATHS[0]?.offered).toEqual(expect.arrayContaining(GLOBAL_OPTIONS));
  });

  it('mention every command and every long option in bash, zsh and fish', () => {
    for (const [shellName, text] of [['bash', bashText], ['zsh', zshText], ['fish', fishText]] as const) {
      expect(unmentioned(shellName, text), shellName).toEqual([]);
    }
  });

  it('would be found lacking a command or a flag (the check bites)', () => {
    for (const [shellName, text] of [['bash', bashText], ['zsh', zshText], ['fish', fishText]] as const) {
      const withoutCommand = text.replaceAll('set-yubico', 'set-yubikey');
      expect(unmentioned(shellName, withoutCommand), shellName).toContain('tfactl realm set-yubico');
      const withoutFlag = shellName === 'fish' ? text.replaceAll('-l regenerate', '-l regen') : text.replaceAll('--regenerate', '--regen');
      expect(unmentioned(shellName, withoutFlag), shellName).toContain('tfactl tfa add recovery --regenerate');
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
    expect(forRealm).toEqual([]); // a realm, from the store: there is none here
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

  it('offers file names for the <file> of backup, restore and user import', () => {
    const dir = join(scratch, 'files');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'snap.db'), '');
    const replies = bashComplete(['tfactl', 'backup', `${dir}/sn`], ['tfactl', 'restore', '--yes', `${dir}/sn`], ['tfactl', 'user', 'import', `${dir}/sn`]);
    expect(replies).toEqual([[`${dir}/snap.db`], [`${dir}/snap.db`], [`${dir}/snap.db`]]);
  });

  it('offers nothing for the value of other options', () => {
    expect(bashComplete(['tfactl', '--auth-code', ''], ['tfactl', 'user', 'add', '--email', ''], ['tfactl', 'audit', '--limit', ''])).toEqual([[], [], []]);
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
    const [backup] = zshComplete(`tfactl backup ${scratch}/`);
    expect(backup).toMatch(/(^|\s)home\/(\s|$)/m);
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
    const [us, user, admin, choices, forRealm, db, authCode, afterValue] = fishComplete(
      'tfactl us',
      'tfactl user ',
      'tfactl user add --ad',
      'tfactl realm set-enforce corp ',
      'tfactl realm set-enforce ',
      `tfactl --db ${dir}/st`,
      'tfactl --auth-code ',
      'tfactl --db realm realm ',
    );
    expect(us).toEqual(['user']);
    expect(user).toEqual(expect.arrayContaining(['add', 'list', 'show', 'modify', 'passwd', 'delete']));
    expect(admin).toEqual(['--admin']);
    expect(choices).toEqual(['none', 'totp', 'yubico']);
    expect(forRealm).toEqual([]); // a realm, from the store: there is none here
    expect(db).toEqual([`${dir}/store.db`]);
    expect(authCode).toEqual([]);
    expect(afterValue).toEqual(expect.arrayContaining(['add', 'set-enforce']));
    expect(afterValue).not.toContain('passwd');
    const [backup, restore, imported] = fishComplete(`tfactl backup ${dir}/st`, `tfactl restore ${dir}/st`, `tfactl user import ${dir}/st`);
    expect([backup, restore, imported]).toEqual([[`${dir}/store.db`], [`${dir}/store.db`], [`${dir}/store.db`]]);
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

// ------------------------------------------------------------------------------------------------
// Values, and ids from a real store

describe('values and ids from the store', () => {
  const store = new TempStore();
  const other = new TempStore();
  afterAll(() => {
    store.remove();
    other.remove();
  });
  const env = () => ({ TFACTL_DB: store.db });
  const USERS = ['alice@local', 'bob@corp', 'root@local'];
  const REALMS = ['corp', 'local'];
  let factors: { id: string; type: string }[] = [];
  let totpId = '';
  const factorIds = () => factors.map((f) => f.id).sort();

  beforeAll(async () => {
    const ok = (r: { code: number | null; stderr: string }) => expect(r.code, r.stderr).toBe(0);
    ok(await store.run(['realm', 'add', 'corp', '--comment', 'corporate accounts']));
    await store.addUser('alice', 'alice password 1', ['--tfa', 'totp', '--no-verify', '--qr', 'none']);
    await store.addUser('bob@corp', 'bob password 1');
    ok(await store.run(['tfa', 'add', 'recovery', 'alice']));
    factors = (await store.run(['tfa', 'list', 'alice', '--json'])).json().result[0].factors;
    totpId = factors.find((f) => f.type === 'totp')!.id;
    await other.addUser('carol', 'carol password 1');
  }, 60_000);

  /**
   * What each command of the tree should offer for each of its option values and arguments, read
   * from commander (not through the generator): choices, the values of OPTION_VALUES, and from
   * the store user ids (<userid>, except where a user is created), factor ids (<id>, of the
   * <userid> before it), realms (<realm>) and setting names (<key>).
   */
  function expectedOffers(): { words: string[]; expected: string[] }[] {
    const offers: { words: string[]; expected: string[] }[] = [];
    const storeValues = (name: string, path: string[]): string[] | undefined =>
      name === 'userid'
        ? NEW_USER_COMMANDS.includes(path.join(' '))
          ? []
          : USERS
        : name === 'realm'
          ? REALMS
          : name === 'id'
            ? factorIds()
            : name === 'key'
              ? Object.keys(SETTINGS).sort()
              : undefined;
    const visit = (cmd: Command, path: string[]) => {
      // A group that runs one of its commands when none is named (`tfactl audit` is `audit list`)
      // offers what that command offers, at the group's own words too.
      const byDefault = cmd.commands.find((c) => c.name() === (cmd as unknown as { _defaultCommandName?: string })._defaultCommandName);
      if (byDefault) visit(Object.assign(Object.create(byDefault) as Command, { commands: [] }), path);
      for (const o of cmd.options.filter((o) => !o.hidden && o.long && (o.required || o.optional))) {
        const valueName = /<([^>]+)>/.exec(o.flags)?.[1] ?? '';
        // An option's value is never a factor id (--api-id <id> is a YubiKey service's client id).
        const expected = o.argChoices ?? (OPTION_VALUES as Record<string, string[]>)[o.long!] ?? (valueName === 'id' ? undefined : storeValues(valueName, ['--']));
        if (expected) offers.push({ words: ['tfactl', ...path, o.long!, ''], expected });
      }
      const before: string[] = [];
      for (const a of cmd.registeredArguments) {
        const expected = a.argChoices ?? storeValues(a.name(), path);
        if (expected) offers.push({ words: ['tfactl', ...path, ...before, ''], expected });
        before.push(a.name() === 'userid' ? 'alice' : a.name() === 'realm' ? 'corp' : 'x');
      }
      for (const c of cmd.commands.filter((c) => !isHidden(c))) visit(c, [...path, c.name()]);
    };
    visit(program, []);
    return offers;
  }

  it('knows what to expect (sanity check of the walk)', () => {
    const offers = expectedOffers().map((o) => o.words.join(' '));
    expect(offers).toEqual(
      expect.arrayContaining([
        'tfactl --as ',
        'tfactl user add --tfa ',
        'tfactl user add --qr ',
        'tfactl user add ',
        'tfactl user show ',
        'tfactl user list --realm ',
        'tfactl realm show ',
        'tfactl realm set-enforce corp ',
        'tfactl tfa delete alice ',
        'tfactl login --type ',
        'tfactl export totp --format ',
        'tfactl audit --user ',
      ]),
    );
    expect(expectedOffers().find((o) => o.words.join(' ') === 'tfactl user add ')?.expected).toEqual([]);
  });

  it('bash offers each of them, for every command of the tree', () => {
    const offers = expectedOffers();
    const replies = bashCompleteWith({ env: env() }, ...offers.map((o) => o.words));
    offers.forEach((o, i) => expect([...(replies[i] ?? [])].sort(), o.words.join(' ')).toEqual([...o.expected].sort()));
  });

  it('zsh offers each of them, for every command of the tree', () => {
    const offers = expectedOffers().filter((o) => o.expected.length > 0);
    const listings = zshCompleteWith(env(), ...offers.map((o) => o.words.join(' ')));
    offers.forEach((o, i) => {
      for (const value of o.expected) expect(hasWord(listings[i] ?? '', value), `${o.words.join(' ')}: ${value}\n${listings[i]}`).toBe(true);
    });
  });

  it('fish offers each of them, for every command of the tree', () => {
    const offers = expectedOffers();
    const replies = fishCompleteWith(env(), ...offers.map((o) => o.words.join(' ')));
    offers.forEach((o, i) => {
      const values = (replies[i] ?? []).map((l) => l.split('\t')[0]);
      expect([...values].sort(), o.words.join(' ')).toEqual([...o.expected].sort());
    });
  });

  it('would be found lacking an id (the check bites)', () => {
    const broken = join(scratch, 'broken.bash');
    writeFileSync(broken, bashText.replace(/^( +'tfa delete'\)\n(?: .*\n){3} +args=\([^)]*\) ids=\()'users' 'factors:0'/m, "$1'users' ''"));
    expect(readFileSync(broken, 'utf8')).not.toBe(bashText);
    const [ids] = bashCompleteWith({ env: env(), file: broken }, ['tfactl', 'tfa', 'delete', 'alice', '']);
    expect(ids).toEqual([]);
  });

  it("bash: ids through an alias, as the README's walk-through makes one (an alias is no command to run)", () => {
    const [viaAlias] = bashCompleteWith({ env: env(), prelude: `alias tfa-here=${sq(resolve(BIN))}` }, ['tfa-here', 'user', 'show', 'b']);
    expect(viaAlias).toEqual(['bob@corp']);
  });

  it('bash: ids by prefix, of the user typed, from the store --db names, with descriptions dropped', () => {
    const [b, ofAlice, ofAliceAfterFlag, partial, fromOther, fromOtherEquals, noStore] = bashCompleteWith(
      { env: env() },
      ['tfactl', 'user', 'show', 'b'],
      ['tfactl', 'tfa', 'disable', 'alice@local', ''],
      ['tfactl', 'tfa', 'delete', '--all', 'alice', ''],
      ['tfactl', 'tfa', 'enable', 'alice', totpId.slice(0, 8)],
      ['tfactl', '--db', other.db, 'user', 'show', ''],
      ['tfactl', `--db=${other.db}`, 'tfa', 'list', ''],
      ['tfactl', '--db', join(scratch, 'nowhere', 'tfactl.db'), 'user', 'show', ''],
    );
    expect(b).toEqual(['bob@corp']);
    expect(ofAlice?.sort()).toEqual(factorIds());
    expect(ofAliceAfterFlag?.sort()).toEqual(factorIds());
    expect(partial).toEqual([totpId]);
    expect(fromOther).toEqual(['carol@local', 'root@local']);
    expect(fromOtherEquals).toEqual(['carol@local', 'root@local']);
    expect(noStore).toEqual([]);
    expect(existsSync(join(scratch, 'nowhere'))).toBe(false);
  });

  it('bash: no space after png: and svg:, which go on with a file name', () => {
    const script = [
      `source ${sq(BASH_FILE)}`,
      // compopt works only inside completion: record what the script asks of it
      'compopt() { echo "compopt $*"; }',
      'COMP_WORDS=(tfactl user add x --qr p); COMP_CWORD=5; _tfactl; printf "%s\\n" "${COMPREPLY[@]}"',
      'COMP_WORDS=(tfactl user add x --qr n); COMP_CWORD=5; _tfactl; printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const r = shell('bash', ['--norc', '--noprofile', '-c', script], env());
    expect(r.stdout).toBe('compopt -o nospace\npng:\nnone\n');
  });

  /**
   * Lines typed into a real interactive bash, each completed with TAB where it says \t and run
   * with Enter: what tfactl (a shell function here, standing in for the command) was run with.
   * Readline splits the words as for a person, at the @ of a user id too (COMP_WORDBREAKS).
   */
  function bashTyped(...lines: string[]): string[] {
    const rc = join(scratch, 'bashrc');
    writeFileSync(rc, [`source ${sq(BASH_FILE)}`, 'tfactl() { printf "RAN:%s\\n" "$*"; }', "PS1='BASHREADY> '"].join('\n') + '\n');
    const driver = [
      'zmodload zsh/zpty',
      'zpty b "bash --noprofile --rcfile ${(q)1} -i"',
      'shift',
      "zpty -r b out '*BASHREADY> *'",
      'for line in "$@"; do',
      '  zpty -w -n b "$line"',
      "  zpty -r b out '*RAN:*BASHREADY> *'",
      '  print -r -- $out',
      'done',
      'zpty -d b',
    ].join('\n');
    const r = shell('zsh', ['-f', '-c', driver, 'zsh', rc, ...lines], env());
    expect(r.status, r.stderr).toBe(0);
    return [...r.stdout.replace(/\r/g, '').matchAll(/^RAN:(.*)$/gm)].map((m) => m[1] ?? '');
  }

  it('bash, as typed: user ids that readline splits at @, and the words after them', () => {
    const [first, second] = factorIds();
    const unique = (id: string, from: string) => {
      let n = 1;
      while (from.startsWith(id.slice(0, n))) n++;
      return id.slice(0, n);
    };
    const totpPrefix = unique(totpId, totpId === first ? second! : first!);
    const ran = bashTyped(
      'tfactl user show ali\t\n',
      'tfactl user show alice@\t\n',
      `tfactl tfa disable alice@lo\t${totpPrefix}\t\n`,
      'tfactl --as=bo\t user show alice@lo\t\n',
      'tfactl --as alice@local user li\t\n',
      'tfactl user add x --qr p\tqr.png\n',
    );
    expect(ran).toEqual([
      'user show alice@local',
      'user show alice@local',
      `tfa disable alice@local ${totpId}`,
      '--as=bob@corp user show alice@local',
      '--as alice@local user list',
      'user add x --qr png:qr.png',
    ]);
  });

  it('zsh: ids with descriptions, values of --tfa and --qr, the store --db names', () => {
    const [users, ofAlice, realms, qr, tfa, fromOther] = zshCompleteWith(
      env(),
      'tfactl user show ',
      'tfactl tfa delete alice ',
      'tfactl user list --realm ',
      'tfactl user add x --qr ',
      'tfactl user add x --tfa ',
      `tfactl --db ${other.db} user show `,
    );
    for (const u of USERS) expect(hasWord(users ?? '', u), u).toBe(true);
    expect(ofAlice).toMatch(new RegExp(`^${totpId} +-- totp: TOTP$`, 'm'));
    expect(ofAlice).toMatch(/ -- recovery: recovery keys$/m);
    expect(realms).toMatch(/^corp +-- corporate accounts$/m);
    for (const v of ['terminal', 'none', 'png:', 'svg:']) expect(hasWord(qr ?? '', v), v).toBe(true);
    for (const v of ['totp', 'yubico', 'none']) expect(hasWord(tfa ?? '', v), v).toBe(true);
    expect(hasWord(fromOther ?? '', 'carol@local')).toBe(true);
    expect(hasWord(fromOther ?? '', 'alice@local')).toBe(false);
  });

  it('offers a user id that starts with - as an argument only after --, and as a value always', async () => {
    const dashed = new TempStore();
    try {
      expect((await dashed.run(['user', 'add', '--no-password', '--', '-eve'])).code).toBe(0);
      const denv = { TFACTL_DB: dashed.db };
      const [before, after, value] = bashCompleteWith({ env: denv }, ['tfactl', 'user', 'show', ''], ['tfactl', 'user', 'show', '--', ''], ['tfactl', '--as', '']);
      expect(before?.sort()).toEqual(['root@local']);
      expect(after?.sort()).toEqual(['-eve@local', 'root@local']);
      expect(value?.sort()).toEqual(['-eve@local', 'root@local']);
      const fish = fishCompleteWith(denv, 'tfactl user show ', 'tfactl user show -- ', 'tfactl --as ').map((lines) => lines.map((l) => l.split('\t')[0]).sort());
      expect(fish).toEqual([['root@local'], ['-eve@local', 'root@local'], ['-eve@local', 'root@local']]);
      const zsh = zshCompleteWith(denv, 'tfactl user show ', 'tfactl user show -- ', 'tfactl --as ');
      expect(zsh.map((listing) => ['-eve@local', 'root@local'].map((u) => hasWord(listing, u)))).toEqual([
        [false, true],
        [true, true],
        [true, true],
      ]);
    } finally {
      dashed.remove();
    }
  });

  it('fish: ids with descriptions, the store --db names, nothing without a store', () => {
    const [ofAlice, fromOther, noStore] = fishCompleteWith(
      env(),
      'tfactl tfa enable alice ',
      `tfactl --db=${other.db} user show `,
      `tfactl --db ${join(scratch, 'nowhere', 'tfactl.db')} user show `,
    );
    expect(ofAlice).toContain(`${totpId}\ttotp: TOTP`);
    expect(fromOther).toEqual(['carol@local', 'root@local']);
    expect(noStore).toEqual([]);
    expect(existsSync(join(scratch, 'nowhere'))).toBe(false);
  });
});

describe("the README's command list", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /## Commands\n\n```\n([\s\S]*?)\n```/.exec(readme)?.[1] ?? '';
  // Each synopsis with its continuation lines (indented), comments dropped.
  const synopses = block
    .split(/\n(?=tfactl )/)
    .map((s) => s.replace(/ {2,}# .*$/gm, ''))
    .filter((s) => s.startsWith('tfactl '));

  it('is found (the check reads something)', () => {
    expect(synopses.length).toBeGreaterThan(40);
  });

  it('names every command, each with every option it has of its own', () => {
    const leaves = PATHS.filter((p) => p.subcommands.length === 0 && p.path.length > 0);
    const missing: string[] = [];
    for (const leaf of leaves) {
      const name = label(leaf);
      const lines = synopses.filter((s) => s === name || s.startsWith(`${name} `));
      if (lines.length === 0) {
        missing.push(name);
        continue;
      }
      const above = PATHS.find((p) => p.path.length === leaf.path.length - 1 && leaf.path.slice(0, -1).every((w, i) => p.path[i] === w))?.offered ?? [];
      for (const option of leaf.offered.filter((o) => !above.includes(o))) {
        if (!lines.some((l) => new RegExp(`${option}(?![\\w-])`).test(l))) missing.push(`${name} ${option}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('names every global option in the sentence that lists them', () => {
    const sentence = /Every command also takes the global options ([\s\S]*?), described once/.exec(readme)?.[1] ?? '';
    const globals = PATHS[0]?.offered.filter((o) => o !== '--help' && o !== '--version') ?? [];
    expect(globals.length).toBeGreaterThan(5);
    expect(globals.filter((o) => !sentence.includes(`\`${o}`))).toEqual([]);
  });
});
