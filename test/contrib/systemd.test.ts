import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SOCKET } from '../../src/remote/route.js';

/** contrib/systemd/ as systemd itself reads it: `systemd-analyze verify`, offline. */
const UNITS = resolve(import.meta.dirname, '../../contrib/systemd');
const dir = mkdtempSync(join(tmpdir(), 'tfactl-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function verify(...files: string[]) {
  return spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { encoding: 'utf8', cwd: dir });
}

describe('the systemd units', () => {
  it('pass systemd-analyze verify, the service activated by the socket', () => {
    for (const unit of ['tfactl.socket', 'tfactl.service']) copyFileSync(join(UNITS, unit), join(dir, unit));
    const r = verify('./tfactl.socket', './tfactl.service');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('are checked for real: a broken unit fails the same check', () => {
    const unit = readFileSync(join(UNITS, 'tfactl.service'), 'utf8');
    writeFileSync(join(dir, 'warned.service'), unit.replace('Type=simple', 'Type=simplest'));
    expect(verify('./warned.service').stderr).toMatch(/Failed to parse service type/);
    writeFileSync(join(dir, 'broken.service'), unit.replace(/^ExecStart=\S+/m, 'ExecStart=relative/tfactl'));
    const r = verify('./broken.service');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Neither a valid executable name nor an absolute path/);
  });

  it('listen where the CLI looks for the service', () => {
    expect(readFileSync(join(UNITS, 'tfactl.socket'), 'utf8')).toContain(`ListenStream=${DEFAULT_SOCKET}\n`);
  });
});
