import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { withOptions } from '../../src/output.js';

/** Every command one can run, as the words that name it (`user add`). */
function leaves(cmd: Command, above: string[] = []): string[] {
  return cmd.commands.length === 0 ? [above.join(' ')] : cmd.commands.flatMap((c) => leaves(c, [...above, c.name()]));
}

/**
 * Commands whose suggested lines do not get the store's options, and why: `serve` names its store in
 * its own configuration, `backup`/`restore` read as prose ("a file tfactl backup wrote"), `pam`'s lines
 * are for a PAM stack's configuration, and the rest open no store.
 */
const NOT_CARRIED = ['serve', 'backup', 'restore', 'pam prompt', 'pam check', 'pam config', 'completion', '__complete', 'help'];

describe('withOptions', () => {
  it('puts the store options after tfactl in each command line that acts on a store, and nowhere else', () => {
    const o = "--db '/srv/a store/t.db'";
    expect(withOptions('fix: tfactl user passwd bob@local', o)).toBe(`fix: tfactl ${o} user passwd bob@local`);
    expect(withOptions("next: 'tfactl tfa add recovery bob' makes keys; see (tfactl tfa list bob)", o)).toBe(
      `next: 'tfactl ${o} tfa add recovery bob' makes keys; see (tfactl ${o} tfa list bob)`,
    );
    expect(withOptions('run tfactl init to finish it; tfactl audit prune --yes; tfactl login', o)).toBe(`run tfactl ${o} init to finish it; tfactl ${o} audit prune --yes; tfactl ${o} login`);
    // Taken as it is, whatever it holds: a path with $& or $1 in it is not a replacement pattern.
    const odd = "--db '/tmp/$&/$1/t.db'";
    expect(withOptions('fix: tfactl user passwd bob', odd)).toBe(`fix: tfactl ${odd} user passwd bob`);
    for (const prose of ['through tfactl serve', 'not a tfactl store', 'tfactl keeps only hashes', 'tfactl-pam-curl user', '/usr/bin/tfactl user add', 'PAM_USER "ALICE" is not a tfactl user name', 'a file tfactl backup wrote', 'tfactl users']) {
      expect(withOptions(prose, o)).toBe(prose);
    }
  });

  it('knows every command of the tree: a new one is carried unless it is named as not', () => {
    const commands = leaves(buildProgram('1.2.3', async () => undefined));
    for (const command of commands) {
      const line = `fix: tfactl ${command} bob`;
      expect(withOptions(line, '--db t.db') !== line, command).toBe(!NOT_CARRIED.includes(command));
    }
    expect(commands).toEqual(expect.arrayContaining(NOT_CARRIED));
  });
});
