import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { NotFoundError, StoreError, UsageError } from '../../errors.js';
import { requireRealm } from '../../services/lookup.js';
import { refuseReplaceable, refuseUntrustedTokenFile } from '../../files.js';
import { CONFIG_FILE } from '../../domain/store-config.js';
import { displayStoreLocation, isPostgresUrl, resolveKeyPath } from '../../domain/store-location.js';
import type { GlobalOptions, Invocation } from '../../invocation.js';
import { hostConfig, keyPathOf, openSession, storePath } from '../session.js';
import { describeErrno } from '../../domain/errno.js';
import { parseTokenValue, type PresentedToken } from '../../domain/api-token.js';
import { boolOpt, secretValue, stringOpt } from '../options.js';
import { parseRealmName, ROOT_USERID } from '../../domain/userid.js';
import { rootWithoutFactor, serviceProblems } from './service-probe.js';
import { checkServiceAddress } from '../../remote/route.js';

/** Where curl may be, in the order bin/tfactl-pam-curl looks. */
const CURL_PATHS = ['/usr/bin/curl', '/bin/curl', '/usr/local/bin/curl'];

/** Where Linux distributions keep PAM modules: the first that has pam_exec.so is named in the lines. */
const MODULE_DIRS = ['/usr/lib/x86_64-linux-gnu/security', '/lib/x86_64-linux-gnu/security', '/usr/lib/aarch64-linux-gnu/security', '/usr/lib64/security', '/lib64/security', '/usr/lib/security', '/lib/security'];

/**
 * `tfactl pam config [sshd]`: the PAM lines for this installation (this node and tfactl, this
 * store, the --realm and --nullok given), to paste into /etc/pam.d/sshd, with the sshd_config
 * settings they need as comments. Every path is absolute: PAM runs them without a PATH.
 */
export async function run(inv: Invocation): Promise<void> {
  const service = inv.args[0] ?? 'sshd';
  // Checked as pam check checks it: lines naming a realm no user id can be in would refuse every sign-in.
  const realm = parseRealmName(stringOpt(inv, 'realm') ?? 'local');
  const nullok = boolOpt(inv, 'nullok') === true;
  // Through a service (--server, with an admin's API token, --token @FILE), or on this store.
  const server = stringOpt(inv, 'server');
  const token = stringOpt(inv, 'token');
  if ((server === undefined) !== (token === undefined)) throw new UsageError('give --server and --token @FILE together: through a service, tfactl pam checks with an admin\'s API token', 'usage');
  const location = storePath(inv);
  // A store this host's config names: the lines name none (pam_exec runs as root, who reads the config).
  const fromConfig = (inv.opts as GlobalOptions).db === undefined && !inv.ctx.env.TFACTL_DB && hostConfig(inv)?.db === location;
  if (server === undefined && isPostgresUrl(location) && !fromConfig) {
    // PAM files are world-readable: a connection string with its password has no place in one.
    throw new UsageError(`the store is on PostgreSQL: its connection string would go into the PAM file; name it in ${CONFIG_FILE} (db = ...), or check through a tfactl service (--server SOCKET --token @FILE)`, 'usage');
  }
  // Shown in the comments: a connection string never with its password.
  const db = isPostgresUrl(location) ? `${displayStoreLocation(location)} (${hostConfig(inv)?.path ?? CONFIG_FILE})` : resolve(location);
  // A relative socket path is made absolute; a URL is held to what any --server is held to.
  const serverAddress = server === undefined ? undefined : server.startsWith('/') ? server : /^[a-z]+:/.test(server) ? checkServiceAddress(server, '--server') : resolve(server);
  // The lines hand the admin's token to it: only the service's socket, or a service over TLS.
  if (serverAddress !== undefined && /^[a-z]+:/.test(serverAddress) && !serverAddress.startsWith('https://')) {
    throw new UsageError(`--server takes the service's socket path or https://HOST:PORT, not ${serverAddress}: the lines send an admin's token there`, 'invalid_server');
  }
  const tokenFile = token === undefined ? undefined : resolve(token.replace(/^@/, ''));
  // pam_exec runs the lines as root with this admin's token: a file others may read gives it away,
  // one they could replace gives them the sign-ins; held to what tfactl pam asks of the store.
  if (tokenFile !== undefined) {
    if (!existsSync(tokenFile)) throw new UsageError(`cannot read the --token file ${tokenFile}: ${describeErrno('ENOENT')}`, 'file_error');
    refuseUntrustedTokenFile(tokenFile, 0);
  }
  const presented = tokenFile === undefined ? undefined : tokenIn(inv, tokenFile);
  // This very tfactl, as this process runs it: the node binary and the script; or, through a
  // service, the shell client beside it.
  const script = realpathSync(process.argv[1] ?? 'tfactl');
  const shellClient = join(dirname(script), 'tfactl-pam-curl');
  const client = serviceClient(inv, serverAddress, tokenFile, existsSync(shellClient));
  const where = serverAddress !== undefined ? ['--server', serverAddress, '--token', `@${tokenFile}`] : fromConfig ? [] : ['--db', db];
  // -p: a shell that is bash takes no options or functions from PAM's environment (SHELLOPTS=noexec
  // would end the script, exit 0, before its first line).
  const program = client === 'curl' ? ['/bin/sh', '-p', shellClient] : [process.execPath, script];
  for (const word of [...program, ...where, realm]) {
    if (/\s/.test(word)) throw new UsageError(`PAM lines are split at blanks, and ${JSON.stringify(word)} holds one`, 'unsafe_path');
  }
  // pam_exec runs them as root: whoever could change node, this tfactl or the shell client (a
  // copy owned by a user, an npm prefix in a home directory) would run code as root at the next
  // sign-in, or let every code through. Held to what tfactl pam asks of the store.
  // Every bundle tfactl loads (PostgreSQL's and the security keys' on the way), not only its first.
  const bundles = ['tfactl.cjs', 'tfactl.cjs.cache', 'tfactl-pam.cjs', 'pg.cjs', 'webauthn-server.cjs'].map((f) => join(dirname(script), '..', 'dist', f));
  // With them the native addons the bundle loads from node_modules (SQLite's, argon2's), which run
  // inside that root process as surely as the bundle does, and the locators it falls back on.
  const addons = client === 'curl' ? [] : await addonFiles(join(dirname(script), '..', 'dist', 'tfactl.cjs'));
  for (const path of client === 'curl' ? [shellClient] : [process.execPath, script, ...bundles, ...addons]) refuseReplaceable(resolve(path), 0, 'the program PAM would run as root');
  // And the socket the lines hand the admin's token to: in a directory others may write, anyone
  // could put a socket of theirs (or a link to another service's) in its place.
  if (serverAddress?.startsWith('/')) refuseReplaceableSocket(serverAddress);
  const dir = MODULE_DIRS.find((d) => existsSync(join(d, 'pam_exec.so')));
  const module = (name: string) => (dir ? join(dir, name) : name);
  // tfactl takes the global options before `pam`; the shell client its command first.
  const run = (command: 'prompt' | 'check') => (client === 'curl' ? [...program, command, ...where] : [...program, ...where, 'pam', command]);
  // sudo and the console have no other first factor: tfactl's password comes with the code.
  const realmArg = ['--realm', realm, ...(service === 'sshd' ? [] : ['--password'])];
  const lines = [
    `auth requisite ${module('pam_exec.so')} stdout quiet ${[...run('prompt'), ...realmArg, ...(nullok ? ['--nullok'] : [])].join(' ')}`,
    `auth required ${module('pam_exec.so')} expose_authtok quiet ${[...run('check'), ...realmArg, ...(nullok ? ['--nullok'] : [])].join(' ')}`,
    // Without it sshd logs pam_setcred(): Permission denied.
    `auth optional ${module('pam_permit.so')}`,
  ];
  const sshdConfig = service === 'sshd' ? ['UsePAM yes', 'KbdInteractiveAuthentication yes', 'AuthenticationMethods publickey,keyboard-interactive'] : [];
  const who = `login names are users of realm ${realm}; ${nullok ? 'users without a second factor pass where their realm asks for none: --nullok' : 'users without a second factor are refused'}`;
  const comments =
    service === 'sshd'
      ? [
          `# tfactl: a second factor after the SSH key, from ${server !== undefined ? `the tfactl service at ${server}` : `the store ${db}`}`,
          `# (${who}).`,
          '# In /etc/pam.d/sshd: these lines in place of "@include common-auth". In /etc/ssh/sshd_config:',
          ...sshdConfig.map((l) => `#   ${l}`),
          '# then reload sshd, and keep a root shell open until a new SSH sign-in has worked.',
        ]
      : [
          `# tfactl: the tfactl password and a second factor, typed as one, from ${server !== undefined ? `the tfactl service at ${server}` : `the store ${db}`}`,
          `# (${who}).`,
          `# In /etc/pam.d/${service}: these lines in place of "@include common-auth" (the Unix password is`,
          '# then not asked). Keep a root shell open until a new sign-in has worked.',
        ];
  // Lines for a realm the store does not have would refuse every sign-in as an unknown user: said
  // now, where the store can be read (a service's is the service's to know).
  if (server === undefined) {
    // The store as the lines will open it: a store they would refuse (not there, open to others, its
    // key file missing or elsewhere) gives no lines, as every sign-in through them would fail.
    const linesKey = resolveKeyPath(location, {}, hostConfig(inv));
    const keyNow = keyPathOf(inv, location);
    if (resolve(linesKey) !== resolve(keyNow)) {
      throw new StoreError(
        `the store's key file is ${keyNow} (TFACTL_KEY_FILE), but the lines would read ${linesKey}: PAM passes them no TFACTL_* variable; move the key file there${fromConfig ? `, or name it in ${hostConfig(inv)?.path ?? CONFIG_FILE} (key-file = ${keyNow})` : ''}`,
        'key_elsewhere',
      );
    }
    const missing = await realmMissing(inv, realm, nullok);
    if (missing !== null) inv.out.warn(`${missing}: every sign-in through these lines fails until it is there`);
  } else if (presented !== undefined && serverAddress !== undefined) {
    // The probe below trusts what this shell's Node trusts; pam_exec runs the lines with no environment.
    if (serverAddress.startsWith('https://') && (inv.ctx.env.NODE_EXTRA_CA_CERTS ?? '') !== '') {
      inv.out.warn(
        "NODE_EXTRA_CA_CERTS is set here, but PAM runs these lines without it: if the service's certificate is signed by that CA, every sign-in through them fails; add the CA to the system's (update-ca-certificates)",
      );
    }
    // The service is asked as the lines will ask it, with their token.
    for (const problem of await serviceProblems(serverAddress, presented, realm, nullok)) inv.out.warn(problem);
  }
  inv.out.result({ service, store: serverAddress ?? db, realm, nullok, client, lines, sshdConfig }, () => [...comments, ...lines].join('\n'));
}

/**
 * The files of node_modules a run of `bundle` may load code from, found as the bundle finds them
 * (scripts/build.mjs): each addon package's package.json and every native addon in it (the one
 * built for this Node, or another its locator would pick), and the locators' own files.
 */
async function addonFiles(bundle: string): Promise<string[]> {
  const { createRequire } = await import('node:module');
  const { readdirSync } = await import('node:fs');
  const under = (dir: string, wanted: (name: string) => boolean, depth = 0): string[] =>
    depth > 8
      ? []
      : readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? under(join(dir, e.name), wanted, depth + 1) : wanted(e.name) ? [join(dir, e.name)] : [],
        );
  const manifestOf = (from: string, pkg: string): string | null => {
    try {
      return createRequire(from).resolve(`${pkg}/package.json`);
    } catch {
      return null;
    }
  };
  const files: string[] = [];
  for (const [pkg, locators] of [['better-sqlite3', ['bindings', 'file-uri-to-path']], ['argon2', ['node-gyp-build']]] as const) {
    const manifest = manifestOf(bundle, pkg);
    if (manifest === null) continue;
    files.push(manifest, ...under(dirname(manifest), (name) => name.endsWith('.node')));
    for (const locator of locators) {
      const own = manifestOf(manifest, locator);
      if (own !== null) files.push(own, ...under(dirname(own), (name) => name.endsWith('.js')));
    }
  }
  return files;
}

/**
 * What PAM runs to ask the service at `server` (--client, else the shell client when it and curl
 * are installed, the service is a socket on this host and the token file's path has no `=`: a
 * shell and curl start in a fraction of node's time); null without a service.
 */
function serviceClient(inv: Invocation, server: string | undefined, tokenFile: string | undefined, shellClient: boolean): 'curl' | 'node' | null {
  const asked = stringOpt(inv, 'client') as 'curl' | 'node' | undefined;
  if (server === undefined) {
    if (asked !== undefined) throw new UsageError('--client goes with --server: on the store, PAM runs tfactl itself', 'usage');
    return null;
  }
  const socket = !/^[a-z]+:/.test(server);
  const curl = CURL_PATHS.some((p) => existsSync(p));
  if (asked === undefined) return socket && curl && shellClient && !tokenFile?.includes('=') ? 'curl' : 'node';
  if (asked === 'node') return 'node';
  if (!shellClient) throw new UsageError('bin/tfactl-pam-curl is missing beside this tfactl: its installation is incomplete (or leave out --client)', 'usage');
  if (!socket) throw new UsageError(`--client curl asks a service on this host's socket, not ${server}: leave out --client (tfactl asks it over TLS)`, 'usage');
  if (!curl) throw new UsageError(`--client curl needs curl (${CURL_PATHS[0]}), which is not installed: install it, or leave out --client`, 'usage');
  if (tokenFile?.includes('=')) throw new UsageError(`--client curl reads the token from a file whose path has no =, not ${tokenFile}: move it, or leave out --client`, 'usage');
  return 'curl';
}

/**
 * The socket PAM's lines send the admin token to: every directory on the way to it as for a store
 * (refuseReplaceable: root's, writable by no one else but for sticky ones such as /tmp), and its
 * own directory root's and writable by no one else at all, sticky or not (the socket itself is
 * 0666 by design: who may connect is not who may replace it).
 */
function refuseReplaceableSocket(socket: string): void {
  const dir = dirname(socket);
  let st;
  try {
    st = statSync(dir);
  } catch {
    return;
  }
  const name = 'the socket PAM would send the token to';
  if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new StoreError(
      `refusing ${name} ${socket}: its directory ${dir} ${st.uid !== 0 ? `belongs to uid ${st.uid}` : `is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode 0${(st.mode & 0o7777).toString(8)})`}, so another user could put something else in its place; keep it where only root may write`,
      'store_permissions',
    );
  }
  // The way to it: a name that is not there stops the walk after the socket's directory (the
  // socket's own mode, 0666, is not the question); said of the socket.
  const probe = join(dir, `.tfactl-route-${process.pid}`);
  try {
    refuseReplaceable(probe, 0, name);
  } catch (e) {
    if (e instanceof StoreError) throw new StoreError(e.message.replace(probe, socket), e.code);
    throw e;
  }
}

/**
 * The token in the --token file, to ask the service with; undefined when this user cannot read it
 * (root's file, a non-root admin writing the lines: nothing is asked). A file without a token in
 * it is refused: every sign-in through the lines would fail.
 */
function tokenIn(inv: Invocation, tokenFile: string): (PresentedToken & { readonly text: string }) | undefined {
  try {
    accessSync(tokenFile, constants.R_OK);
  } catch {
    return undefined;
  }
  const text = secretValue(inv, `@${tokenFile}`, '--token');
  const parsed = parseTokenValue(text);
  if (parsed === null) throw new UsageError(`the --token file ${tokenFile} does not hold an API token (USERID!NAME=SECRET): every sign-in through these lines would fail`, 'invalid_token');
  return { ...parsed, text: text.trim() };
}

/**
 * Opens the store as `pam check` will (held to the rule for what PAM reads as root, its key file
 * read), refusing as it would; then why `realm` is not in it, or null when it is.
 */
async function realmMissing(inv: Invocation, realm: string, nullok: boolean): Promise<string | null> {
  // Held to the rule as for root, who runs the lines (the one running this may own the files), as
  // openSession's `trusted` would hold them for this user: checked once, here.
  const location = storePath(inv);
  if (!isPostgresUrl(location)) refuseReplaceable(location, 0, 'the store');
  refuseReplaceable(keyPathOf(inv, location), 0, 'the key file');
  const session = await openSession(inv, undefined, { readOnly: true });
  await session.secretKey();
  try {
    await requireRealm(session.store, realm);
  } catch (e) {
    if (e instanceof NotFoundError) return e.message;
    throw e;
  }
  // The login name root is root@local in realm local: without a second factor of its own, every
  // SSH sign-in as root is refused once these lines are in (an admin's spare root shell closed).
  if (realm === 'local' && !nullok && !(await session.store.listFactors(ROOT_USERID)).some((f) => f.enabled)) {
    inv.out.warn(rootWithoutFactor());
  }
  return null;
}
