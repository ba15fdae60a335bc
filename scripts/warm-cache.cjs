#!/usr/bin/env node
'use strict';
// Makes dist/tfactl.cjs.cache (run by scripts/build.mjs): loads the bundle the way bin/tfactl.cjs
// does, runs the commands people start most often against a throw-away store, and writes V8's code
// cache of everything they compiled. Every command must succeed, or the build fails.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { load, CACHE } = require('../bin/tfactl.cjs');

const { exports: tfactl, script, id } = load(false);
if (id === undefined) throw new Error('dist/tfactl.cjs has no build id');

const PASSWORD = 'warm-up-password-1';

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfactl-warm-'));
  try {
    const base = tfactl.processContext();
    const env = { PATH: process.env.PATH, NO_COLOR: '1', TFACTL_DB: path.join(dir, 'tfactl.db') };
    const run = async (argv, stdin = '', extraEnv = {}, expected = [0]) => {
      let out = '';
      const lines = stdin.split('\n');
      const io = {
        stdout: { write: (t) => void (out += t), isTTY: false, columns: undefined },
        stderr: { write: (t) => void (out += t), isTTY: false },
        stdinIsTTY: false,
        readStdin: async () => stdin,
        readLine: async () => (lines.length > 1 || lines[0] !== '' ? lines.shift() : null),
        onInterrupt: () => () => {},
      };
      const code = await tfactl.main(argv, { ...base, io, env: { ...env, ...extraEnv } });
      if (!expected.includes(code)) throw new Error(`warm-up: tfactl ${argv.join(' ')} exited ${code}:\n${out}`);
      return out;
    };
    const setup = (argv, input = '') => {
      const r = require('node:child_process').spawnSync(process.execPath, [require.resolve('../bin/tfactl.cjs'), ...argv], { env, input, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`warm-up: tfactl ${argv.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    setup(['init']);
    setup(['user', 'add', 'alice', '--password-stdin'], `${PASSWORD}\n`);
    setup(['user', 'add', 'bob', '--password-stdin'], `${PASSWORD}\n`);
    setup(['tfa', 'add', 'totp', 'bob', '--no-verify', '--json']);
    setup(['user', 'add', 'carol', '--no-password']);
    setup(['tfa', 'add', 'totp', 'carol', '--no-verify', '--json']);
    const keys = JSON.parse(setup(['tfa', 'add', 'recovery', 'bob', '--json'])).result.keys;
    await run(['--version']);
    for (const json of [[]]) {
      await run(['tfa', 'list', ...json]);
      await run(['user', 'list', ...json]);
      await run(['user', 'show', 'bob', ...json]);
      await run(['realm', 'list', ...json]);
      await run(['login', 'alice', '--password-stdin', ...json], `${PASSWORD}\n`);
      await run(['login', 'bob', '--password-stdin', '--code', keys.pop(), ...json], `${PASSWORD}\n`);
    }
    // What pam_exec runs at every SSH sign-in: a recovery key, and a TOTP code checked (the
    // secret is random: a wrong code, exit 5, unless it happens to be right).
    const pam = { PAM_SERVICE: 'sshd', PAM_TYPE: 'auth' };
    await run(['--db', env.TFACTL_DB, 'pam', 'check'], keys.pop(), { ...pam, PAM_USER: 'bob' });
    await run(['--db', env.TFACTL_DB, 'pam', 'check'], '000000', { ...pam, PAM_USER: 'carol' }, [0, 5]);
    // Written whole and flushed before it takes the cache's name: never a half-written cache.
    const tmp = `${CACHE}.${process.pid}`;
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeFileSync(fd, Buffer.concat([Buffer.from(id, 'latin1'), script.createCachedData()]));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, CACHE);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
