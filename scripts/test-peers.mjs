#!/usr/bin/env node
// The programs the tests run besides node (their "peers": real implementations we check tfactl
// against), and the Debian packages that have them. `npm test` runs this first, before the build:
//
//   node scripts/test-peers.mjs           all present: silent, exit 0. Some missing: as root with
//                                         apt-get, install their packages (`apt-get update` once, then
//                                         `apt-get install -y --no-install-recommends ...`; the log is
//                                         shown only if that fails); otherwise print one line naming
//                                         them and the command that installs them, exit 1.
//   node scripts/test-peers.mjs --check   never install, only name what is missing.
//   node scripts/test-peers.mjs --bench   the test peers and the bench's own (BENCH_PEERS): what
//                                         `npm run bench` runs first (with --check: only name them).
//   TFACTL_TEST_PEERS=check npm test      the same through npm test.
//
// A test that needs a new program adds a row to PEERS; test/test-peers.test.ts fails while a
// program the tests spawn by name has no row.
import { accessSync, constants, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * One row per program. `command` is looked up on the PATH, unless `probe` is given: an argv that
 * must exit 0, for a peer that is not a program of its own (a python module:
 * `probe: ['python3', '-c', 'import icu']`); `command` then only names it in messages.
 * @typedef {{ command: string, package: string, for: string, probe?: readonly string[] }} Peer
 * @type {readonly Peer[]}
 */
export const PEERS = [
  { command: 'python3', package: 'python3', for: 'runs tfactl on a real pseudo-terminal (test/e2e/pty-driver.py), on pipes set up as other programs do (stdio.test.ts), and asks glibc\'s wcwidth for terminal widths (text-width.test.ts)' },
  { command: 'oathtool', package: 'oathtool', for: 'TOTP codes from an implementation independent of ours' },
  { command: 'sqlite3', package: 'sqlite3', for: "SQLite's own shell, reading a store while tfactl serve holds it, as an admin's checks do (store-file.test.ts)" },
  { command: 'curl', package: 'curl', for: "talks to tfactl serve over its Unix socket, as the README's examples do (serve.test.ts)" },
  { command: 'zbarimg', package: 'zbar-tools', for: 'decodes the QR codes tfactl writes as images' },
  { command: 'rsvg-convert', package: 'librsvg2-bin', for: 'rasterises SVG QR codes for zbarimg' },
  { command: 'yubikey', package: 'python3-yubiotp', for: 'a simulated YubiKey that types OTPs (yubico.test.ts, backup-export.test.ts)' },
  { command: 'bash', package: 'bash', for: 'the bash completion; shell redirections; the README\'s commands as written' },
  { command: 'zsh', package: 'zsh', for: 'the zsh completion, listed by a real interactive zsh' },
  { command: 'fish', package: 'fish', for: 'the fish completion, offered by a real fish' },
  { command: 'unshare', package: 'util-linux', for: 'runs tfactl as another OS user than the store\'s owner' },
  { command: 'runuser', package: 'util-linux', for: 'runs the CLI as the unprivileged user nobody, a client of tfactl serve (client.test.ts)' },
  { command: 'setpriv', package: 'util-linux', for: 'runs the CLI as nobody with only its uid and gid changed (client.test.ts)' },
  { command: 'openssl', package: 'openssl', for: 'a certificate for 127.0.0.1, for the CLI reaching tfactl serve over TLS (client.test.ts)' },
  { command: 'pamtester', package: 'pamtester', for: 'runs a PAM stack with tfactl pam in it, as sshd would (pam.test.ts)' },
  { command: 'libpam_wrapper.so', package: 'libpam-wrapper', for: 'lets pamtester use a PAM service directory of the test\'s instead of /etc/pam.d (pam.test.ts)', probe: ['/usr/bin/python3', '-c', "import glob, sys; sys.exit(0 if glob.glob('/usr/lib/*/libpam_wrapper.so') + glob.glob('/usr/lib*/libpam_wrapper.so') else 1)"] },
  { command: 'pam_exec.so', package: 'libpam-modules', for: 'the PAM module that runs tfactl pam (pam.test.ts)', probe: ['/usr/bin/python3', '-c', "import glob, sys; sys.exit(0 if glob.glob('/usr/lib/*/security/pam_exec.so') + glob.glob('/lib/*/security/pam_exec.so') else 1)"] },
  { command: 'sshd', package: 'openssh-server', for: 'a real sshd asking for tfactl\'s second factor after the key (pam-sshd.test.ts)', probe: ['/usr/bin/test', '-x', '/usr/sbin/sshd'] },
  { command: 'ssh', package: 'openssh-client', for: 'signs in to that sshd (pam-sshd.test.ts)' },
  { command: 'ssh-keygen', package: 'openssh-client', for: 'the host and user keys of that sshd (pam-sshd.test.ts)' },
  { command: 'pexpect', package: 'python3-pexpect', for: 'drives ssh through the key and the code prompt (pam-sshd.test.ts)', probe: ['/usr/bin/python3', '-c', 'import pexpect'] },
  { command: 'systemd-analyze', package: 'systemd', for: 'checks the units in contrib/systemd/ (test/contrib/systemd.test.ts)' },
  { command: 'mkfifo', package: 'coreutils', for: 'a named pipe where a secret file, an input file, a backup or the store is expected' },
  { command: 'seq', package: 'coreutils', for: 'shell loops of concurrent tfactl processes' },
  { command: 'mount', package: 'mount', for: 'a small tmpfs that fills up, for output files and stores on a full disk (harness.ts withFullDisk)' },
  { command: 'umount', package: 'mount', for: 'unmounts that tmpfs again' },
  { command: 'dd', package: 'coreutils', for: 'fills that tmpfs to its last byte' },
  { command: 'chown', package: 'coreutils', for: 'a symlink of another user\'s, which tfactl pam must not trust (pam.test.ts)' },
  { command: 'sh', package: 'dash', for: 'pipelines that feed tfactl endless standard input (signin-rules.test.ts); runs bin/tfactl-pam-curl as pam_exec does (pam-curl.test.ts)' },
  { command: 'shellcheck', package: 'shellcheck', for: 'holds bin/tfactl-pam-curl, which PAM runs as root, to portable and safe POSIX sh (pam-curl.test.ts)' },
  { command: 'faketime', package: 'faketime', for: 'runs tfactl with its clock ahead of the host\'s, as a clock later set back leaves what it made (sessions.test.ts, login-ceremony.test.ts)' },
  { command: 'yes', package: 'coreutils', for: 'standard input that never ends, one short line after another' },
  { command: 'cat', package: 'coreutils', for: 'standard input that never ends and has no line end (cat /dev/zero)' },
  {
    command: 'python3-icu',
    package: 'python3-icu',
    for: "ICU's spoof checker, the source of the confusable-names table (scripts/confusables.py, lookalike.test.ts)",
    // Debian's python, which the package is for (a python3 earlier on the PATH, pyenv's, may lack it).
    probe: ['/usr/bin/python3', '-c', 'import icu'],
  },
  { command: 'perl', package: 'perl-base', for: 'runs Authen::U2F::Tester, the software U2F device (test/fixtures/u2f-tester.ts)' },
  {
    command: 'Authen::U2F::Tester',
    package: 'libauthen-u2f-tester-perl',
    for: 'a software U2F device: registrations and raw U2F sign answers for any appid and challenge (u2f.test.ts)',
    probe: ['perl', '-MAuthen::U2F::Tester', '-e', '1'],
  },
  { command: 'fido2-assert', package: 'fido2-tools', for: "libfido2's own reading of the fido2-assert -G input and -V check of the paste format (fido2-assert.test.ts)" },
  {
    command: 'initdb',
    package: 'postgresql',
    for: 'a throwaway PostgreSQL cluster (initdb, pg_ctl) for the store on PostgreSQL (scripts/postgres-cluster.mjs)',
    probe: ['/usr/bin/python3', '-c', "import glob, sys; sys.exit(0 if glob.glob('/usr/lib/postgresql/*/bin/initdb') and glob.glob('/usr/lib/postgresql/*/bin/pg_ctl') else 1)"],
  },
  { command: 'man', package: 'man-db', for: 'renders the man page tfactl(1) as man -l does, with groff\'s warnings on (manpage.test.ts)' },
  {
    command: 'chromium',
    package: 'chromium',
    for: 'a real browser, headless, with a virtual security key, for the WebAuthn loopback page (test/e2e/browser.ts runs /usr/lib/chromium/chromium)',
  },
];

/**
 * What `npm run bench` (scripts/bench.mjs) runs besides the test peers: the programs it measures
 * tfactl against.
 * @type {readonly Peer[]}
 */
export const BENCH_PEERS = [
  {
    command: 'pam_google_authenticator.so',
    package: 'libpam-google-authenticator',
    for: "google-authenticator's PAM module, timed with the same TOTP code beside tfactl pam check (bench section 6)",
    probe: ['/usr/bin/python3', '-c', "import glob, sys; sys.exit(0 if glob.glob('/usr/lib/*/security/pam_google_authenticator.so') + glob.glob('/lib/*/security/pam_google_authenticator.so') else 1)"],
  },
];

/** The executable regular file `command` names on `path` (a PATH value), if any. */
export function findOnPath(command, path = process.env.PATH ?? '') {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, command);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here: try the next directory.
    }
  }
  return undefined;
}

/** @param {Peer} peer */
function isPresent(peer) {
  if (!peer.probe) return findOnPath(peer.command) !== undefined;
  const [cmd, ...args] = peer.probe;
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

const missingPeers = (peers) => peers.filter((p) => !isPresent(p));
const packagesOf = (peers) => [...new Set(peers.map((p) => p.package))];
const names = (peers) => peers.map((p) => p.command).join(', ');

/** Runs apt-get quietly; its output is returned to be shown only if something fails. */
function aptGet(args) {
  const r = spawnSync('apt-get', ['-q', '-o', 'DPkg::Lock::Timeout=300', ...args], {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return { ok: r.status === 0, log: `$ apt-get ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}` };
}

/** Returns the exit code: 0 when every peer is there (or was just installed), else 1. */
export function ensurePeers({ checkOnly, bench = false }) {
  const peers = bench ? [...PEERS, ...BENCH_PEERS] : PEERS;
  const kind = bench ? 'test and bench peers' : 'test peers';
  const missing = missingPeers(peers);
  if (missing.length === 0) return 0;
  const packages = packagesOf(missing);
  const isRoot = process.getuid?.() === 0;
  const installCommand = `${isRoot ? '' : 'sudo '}apt-get install ${packages.join(' ')}`;
  if (checkOnly || !isRoot || findOnPath('apt-get') === undefined) {
    process.stderr.write(`missing ${kind}: ${names(missing)} (install them: ${installCommand})\n`);
    return 1;
  }

  const update = aptGet(['update']);
  const install = update.ok ? aptGet(['install', '-y', '--no-install-recommends', ...packages]) : undefined;
  if (!install?.ok) {
    process.stderr.write(update.log + (install?.log ?? ''));
    process.stderr.write(`missing ${kind}: ${names(missing)} (installing them failed, log above: ${installCommand})\n`);
    return 1;
  }
  const still = missingPeers(peers);
  if (still.length > 0) {
    process.stderr.write(`missing ${kind}: ${names(still)} (apt-get installed ${packagesOf(still).join(' ')} but not them: check their rows in scripts/test-peers.mjs)\n`);
    return 1;
  }
  process.stderr.write(`installed ${kind}: ${names(missing)} (apt-get install ${packages.join(' ')})\n`);
  return 0;
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const mode = process.env.TFACTL_TEST_PEERS ?? '';
  const unknown = args.find((a) => a !== '--check' && a !== '--bench');
  if (unknown !== undefined || !['', 'check'].includes(mode)) {
    // A typo must not turn a check into an install.
    process.stderr.write(`test-peers: ${unknown !== undefined ? `unknown argument ${unknown}` : `TFACTL_TEST_PEERS=${mode} is not known`} (only --check, --bench, TFACTL_TEST_PEERS=check)\n`);
    process.exitCode = 2;
  } else {
    process.exitCode = ensurePeers({ checkOnly: args.includes('--check') || mode === 'check', bench: args.includes('--bench') });
  }
}
