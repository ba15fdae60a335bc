import { describe, expect, it } from 'vitest';
import { withOptions } from '../../src/output.js';

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
});
