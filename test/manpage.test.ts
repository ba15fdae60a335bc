import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import type { buildProgram as BuildProgram } from '../src/cli.js';
import { HELP_EXAMPLES } from '../src/help-examples.js';

const ROOT = resolve(import.meta.dirname, '..');
const SCRIPT = join(ROOT, 'scripts/manpage.mjs');
const PAGE = join(ROOT, 'man/tfactl.1');
const scratch = mkdtempSync(join(tmpdir(), 'tfactl-man-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The command tree of the built bundle (what ships), typed as src/cli.ts's.
const { buildProgram } = createRequire(import.meta.url)('../dist/tfactl.cjs') as { buildProgram: typeof BuildProgram };
const program = buildProgram('0', async () => {});
const visible = (cmd: Command, path: string[] = []): string[][] => [
  path,
  ...cmd.createHelp().visibleCommands(cmd).flatMap((c) => visible(c, [...path, c.name()])),
];

/** Debian's man (man-db) rendering a page file as a person would see it, 80 columns, groff's warnings on. */
function man(file: string) {
  const r = spawnSync('man', ['--warnings', '-l', file], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', LANG: 'C.UTF-8' },
  });
  // A missing man fails the test: scripts/test-peers.mjs (run by npm test) installs it.
  if (r.error) throw new Error(`cannot run man (a test peer: see scripts/test-peers.mjs): ${r.error.message}`);
  return r;
}

describe('the man page tfactl(1)', () => {
  const rendered = man(PAGE);

  it('renders with man -l without a warning, within 80 columns', () => {
    expect(rendered.stderr).toBe('');
    expect(rendered.status).toBe(0);
    const wide = rendered.stdout.split('\n').filter((l) => l.length > 80);
    expect(wide).toEqual([]);
  });

  it('would show groff\'s warnings (the check bites)', () => {
    const bad = join(scratch, 'bad.1');
    writeFileSync(bad, `${readFileSync(PAGE, 'utf8')}.frobnicate\n${'x'.repeat(120)}\n`);
    expect(man(bad).stderr).toMatch(/warning: macro 'frobnicate' not defined/);
  });

  it('has the sections of a man page', () => {
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'GLOBAL OPTIONS', 'COMMANDS', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'EXAMPLES', 'SEE ALSO']) {
      expect(rendered.stdout, section).toMatch(new RegExp(`^${section}$`, 'm'));
    }
    expect(rendered.stdout).toMatch(/^ {7}tfactl - manage users, realms and second factors/m);
  });

  it('shows every command with its options, arguments and examples', () => {
    const paths = visible(program).filter((p) => p.length > 0);
    expect(paths.length).toBeGreaterThan(30);
    const text = rendered.stdout;
    for (const path of paths) {
      const name = ['tfactl', ...path].join(' ');
      const at = text.search(new RegExp(`^ {3}${name}$`, 'm'));
      expect(at, name).toBeGreaterThan(0);
      const next = text.slice(at + 1).search(/^ {3}\S|^\S/m);
      const section = text.slice(at, next < 0 ? undefined : at + 1 + next);
      let cmd = program;
      for (const word of path) cmd = cmd.commands.find((c) => c.name() === word)!;
      for (const o of cmd.options.filter((o) => !o.hidden && o.long !== '--help')) expect(section, `${name} ${o.long}`).toMatch(new RegExp(`^ {7}${o.long}\\b`, 'm'));
      for (const a of cmd.registeredArguments) expect(section, `${name} <${a.name()}>`).toContain(a.name());
      for (const { line } of HELP_EXAMPLES[path.join(' ')] ?? []) expect(section, `${name}: ${line}`).toContain(line.split('\n')[0]);
    }
  });

  it('lists the exit codes, the environment and the files', () => {
    const text = rendered.stdout;
    const exit = text.slice(text.indexOf('\nEXIT STATUS\n'), text.indexOf('\nENVIRONMENT\n'));
    for (const [code, meaning] of [['0', 'success'], ['2', 'usage error or invalid input'], ['5', 'authentication failed'], ['6', 'store unavailable'], ['130', 'cancelled']]) {
      expect(exit).toMatch(new RegExp(`^ {7}${code} +${meaning}`, 'm'));
    }
    for (const variable of ['TFACTL_DB', 'TFACTL_AS', 'TFACTL_KEY_FILE', 'NO_COLOR', 'FORCE_COLOR', 'XDG_DATA_HOME']) {
      expect(text, variable).toMatch(new RegExp(`^ {7}${variable}$`, 'm'));
    }
    for (const file of ['/var/lib/tfactl/tfactl.db', '~/.local/share/tfactl/tfactl.db', 'STORE.key']) expect(text, file).toContain(file);
  });

  it('shows command lines as they are typed: plain minus signs and quotes', () => {
    expect(rendered.stdout).toContain(`printf '%s\\n' "$PASSWORD" |`);
    expect(rendered.stdout).toContain('tfactl realm set-enforce corp totp');
    expect(rendered.stdout).not.toMatch(/[\u2010\u2019\u2212]/);
  });

  it('ships in the package, where npm installs man pages from', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[]; man: string[] };
    expect(pkg.files).toContain('man');
    expect(pkg.man).toEqual(['./man/tfactl.1']);
  });

  it('is up to date with the command tree (scripts/manpage.mjs --check)', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('is reported stale when it differs from what would be generated', () => {
    const stale = join(scratch, 'tfactl.1');
    writeFileSync(stale, readFileSync(PAGE, 'utf8').replace(/^\.SS tfactl audit$/m, '.SS tfactl audits'));
    const r = spawnSync(process.execPath, [SCRIPT, '--check', '--out', stale], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('tfactl.1 is stale: run `npm run build && npm run man`');
  });
});
