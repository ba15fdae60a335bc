import { Argument, Command, type CommandOptions, InvalidArgumentError, Option } from 'commander';
import type { Io } from './context.js';
import { UsageError } from './errors.js';
import { describeSize, INPUT_LIMITS } from './files.js';
import { addHelp, commandPath as commandWords, findCommand } from './help.js';
import type { Invocation } from './invocation.js';
import type { PamLine } from './pam-argv.js';

/** What a leaf command module exports. Loaded only when its command runs. */
export interface CommandModule {
  run(inv: Invocation): Promise<void>;
}
export type Loader = () => Promise<CommandModule>;
/** Runs a leaf command (`command` is its path: `tfa add totp`): main.ts supplies the real one. */
export type LeafRunner = (load: Loader, args: readonly string[], opts: Readonly<Record<string, unknown>>, command: string) => Promise<void>;

/** The leaves pam_exec runs at every sign-in: main.ts runs their lines without building the tree (pam-argv.ts). */
export const PAM_LEAVES: Readonly<Record<PamLine['command'], Loader>> = {
  'pam check': () => import('./commands/pam/check.js'),
  'pam prompt': () => import('./commands/pam/prompt.js'),
};

/** How user ids and realm names are read: the help of every argument that takes one. */
const USERID = 'name@realm, or a bare name in realm local; case and width do not matter (ALICE@Corp is alice@corp)';
const NEW_USERID =
  `${USERID}; a new name may not mix scripts or hold letters that look like ASCII ones (such as a Cyrillic o) unless the setting names.allow-confusable allows it`;
const REALM = 'realm name; case does not matter (Corp is corp)';
/** A listing's --wide. */
const WIDE = 'every column whole, however wide (on a terminal the table is fitted to its width)';
const NEW_REALM = "2 to 32 letters, digits, '.', '-' or '_', starting with a letter; kept in lower case";

export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    unexpected internal error
  2    usage error or invalid input
  3    not found (user, realm, factor)
  4    conflict or refused by policy
  5    authentication failed (wrong password or code, replay, locked out)
  6    store unavailable (or the tfactl service), damaged or from a newer tfactl; output not writable
  130  cancelled (Ctrl-C, SIGTERM or SIGHUP, or no to a question)`;

/**
 * `choices` for an option or argument, taken in any case (`TOTP` is totp), as user ids and realm
 * names are: commander's own check is exact. The choices stay for help and completions; `hint`
 * follows them in the refusal.
 */
function anyCase<T extends Option | Argument>(target: T, choices: readonly string[], hint = ''): T {
  target.choices(choices);
  target.argParser((value: string) => {
    const lower = value.toLowerCase();
    if (!choices.includes(lower)) throw new InvalidArgumentError(`Allowed choices are ${choices.join(', ')}${hint}.`);
    return lower;
  });
  return target;
}

/** A command's names from below the program down to it: `tfa add totp`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * A group's unknown words say the same as `tfactl help` does of them: `unknown command 'user ad'
 * (Did you mean user add?)`, the whole path and a command to type, not commander's `'ad' (Did you
 * mean add?)`. And `tfactl bogus --help` (or `user bogus --help`) is that error, exit 2, as
 * `tfactl bogus` and `tfactl help bogus` are, not the group's help with exit 0: commander answers
 * a help flag before it looks at a group's words, this looks first. Both hooks are commander's
 * private ones, so test/e2e/help.test.ts holds the behaviour to them.
 */
function unknownCommands(group: Command, program: Command): Command {
  const hooked = group as unknown as { _outputHelpIfRequested(unknown: string[]): void; unknownCommand(): never };
  const outputHelpIfRequested = hooked._outputHelpIfRequested.bind(group);
  // group.args is the group's words (none of them a command of its: those were dispatched) then the unknown options.
  hooked.unknownCommand = () => findCommand(program, [...commandWords(group), group.args[0] ?? '']) as never;
  hooked._outputHelpIfRequested = (unknown) => {
    if (group.args.length > unknown.length) hooked.unknownCommand();
    outputHelpIfRequested(unknown);
  };
  return group;
}

/**
 * Commander names a command by its last word where it has too many arguments (`too many arguments
 * for 'totp'`): the whole of it (`tfa add totp`) is what was typed, and what has the --help to see.
 */
function wholePathInErrors(cmd: Command): Command {
  const error = cmd.error.bind(cmd);
  cmd.error = (message, options) => error(options?.code === 'commander.excessArguments' ? message.replace(`for '${cmd.name()}'`, `for '${commandPath(cmd)}'`) : message, options);
  return cmd;
}

/**
 * An option of the command that takes a value, followed by another of its options or a global one
 * (`--comment --enable`): its value is missing, as main.ts says of a global option's. Commander
 * would take `--enable` for the comment and leave the user disabled. A value that only starts with
 * dashes is taken (`--comment '--- moved ---'`), as is any with `=` (`--comment=--enable`).
 */
function refuseOptionAsValue(cmd: Command): void {
  const known = new Set<string>(['-h', '--help']);
  for (let c: Command | null = cmd; c; c = c.parent) for (const o of c.options) for (const flag of [o.long, o.short]) if (flag) known.add(flag);
  let root = cmd;
  while (root.parent) root = root.parent;
  const words = (root as unknown as { rawArgs?: readonly string[] }).rawArgs ?? [];
  const end = words.indexOf('--');
  const line = end < 0 ? words : words.slice(0, end);
  for (let i = 0; i < line.length - 1; i++) {
    const option = cmd.options.find((o) => o.required && o.long === line[i]);
    const next = line[i + 1]!;
    if (option && next.startsWith('-') && known.has(next.split('=')[0]!)) throw new UsageError(`option '${option.flags}' argument missing`);
  }
}

/**
 * The command tree, nothing else: names, arguments, options and help. Help and the version are
 * written to `io` (main.ts gives its own), else to the process's streams.
 *
 * With `only`, the groups below tfactl (user, tfa, ...) whose names are not in it are left empty:
 * main.ts gives the words of the command line, so a command builds the one group it names, not
 * all eight (about a millisecond of every start). A command line can only reach a group whose name
 * it holds, and an empty group is listed in tfactl's help as a full one is; test/unit/cli-tree.test.ts
 * holds every command line and help text to the whole tree's.
 */
export function buildProgram(version: string, runLeaf: LeafRunner, io?: Pick<Io, 'stdout' | 'stderr'>, only?: ReadonlySet<string>): Command {
  const program = new Command('tfactl')
    // Set first: subcommands copy these when they are created. Errors are printed by main.ts.
    .exitOverride()
    .configureOutput({
      outputError: () => undefined,
      ...(io && {
        writeOut: (text: string) => void io.stdout.write(text),
        writeErr: (text: string) => void io.stderr.write(text),
        // As commander's own: the terminal's width, else its default of 80 columns (also for a
        // terminal that says it is 0 wide: a pty whose size was never set).
        getOutHelpWidth: () => (io.stdout.isTTY && io.stdout.columns ? io.stdout.columns : undefined) as number,
        getErrHelpWidth: () => (io.stderr.isTTY && io.stderr.columns ? io.stderr.columns : undefined) as number,
        // tfactl's help has no colours of its own to keep.
        getOutHasColors: () => false,
        getErrHasColors: () => false,
      }),
    })
    .description('Manage users, realms and second factors in a local SQLite store, or on PostgreSQL.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand(false)
    .option('--db <path>', 'store file, or postgres://USER:PASSWORD@HOST:PORT/DB (default: $TFACTL_DB, else db in /etc/tfactl/config, else /var/lib/tfactl/tfactl.db as root, else $XDG_DATA_HOME/tfactl/tfactl.db)')
    .option('--as <userid>', 'act as this user (default: $TFACTL_AS, else root@local for the owner of the store)')
    .option('--password-stdin', 'read passwords from standard input, one per line: the acting user\'s first, then a new one')
    .option('--auth-code <code>', 'second factor of the --as user (TOTP code, recovery key or YubiKey OTP), when they have one; - reads it from standard input, @FILE from a file')
    .option('--server <path|url>', 'send the command to a tfactl service: its Unix socket, or https://HOST:PORT (default: $TFACTL_SERVER, else the store directly when you can open it, else /run/tfactl/tfactl.sock)')
    .option('--token <@file>', 'act with an API token (USERID!NAME=SECRET) read from this file (default: $TFACTL_TOKEN); never the token itself')
    .option('--json', 'print one JSON envelope: {"ok":true,"result":...,"warnings":[...]} or {"ok":false,"error":{...},"warnings":[...]}')
    .option('--debug', 'show stack traces on errors')
    // Global options are described once, in `tfactl --help`; addHelp points subcommands there.
    .configureHelp({ showGlobalOptions: false, sortSubcommands: false })
    .showSuggestionAfterError(true)
    .addHelpText('after', EXIT_CODES_HELP);
  unknownCommands(program, program);

  const leaf = (parent: Command, name: string, description: string, load: Loader, options?: CommandOptions): Command =>
    wholePathInErrors(parent.command(name, options))
      .description(description)
      .action(async (...params: unknown[]) => {
        const cmd = params.at(-1) as Command;
        refuseOptionAsValue(cmd);
        // Each declared argument as parsed (a choice typed in any case, in lower case; anyCase), the rest as typed.
        const args = cmd.args.map((typed, i) => {
          const parsed: unknown = cmd.processedArgs[i];
          return typeof parsed === 'string' ? parsed : typed;
        });
        await runLeaf(load, args, cmd.optsWithGlobals(), commandPath(cmd));
      });

  // Groups only hold subcommands; `tfactl user --help` lists them (no `help` subcommand). A group
  // of tfactl's own is filled only when `only` allows it (see buildProgram's comment).
  const group = (parent: Command, name: string, description: string, fill?: (group: Command) => void): Command => {
    const cmd = unknownCommands(parent.command(name).description(description).helpCommand(false), program);
    if (fill && (parent !== program || only === undefined || only.has(name))) fill(cmd);
    return cmd;
  };

  const yubicoOptions = (cmd: Command): Command =>
    cmd
      .option('--api-id <id>', 'YubiKey validation service client id')
      .option('--api-key <base64>', 'YubiKey validation service API key, or @FILE to read it from a file (stored encrypted)')
      .option('--url <url>', 'validation server, repeatable; asked in parallel (default: Yubico\'s cloud)', (v: string, all: string[] = []) => [...all, v])
      .option('--offline', 'validate YubiKey OTPs offline with each key\'s AES key');

  leaf(program, 'init', 'create the store and its key file if missing (idempotent)', () => import('./commands/init.js'));

  group(program, 'user', 'manage users', (user) => {
    leaf(user, 'add', 'add a user', () => import('./commands/user/add.js'))
      .argument('<userid>', NEW_USERID)
      .option('--no-password', 'create the user without a password (cannot sign in until one is set)')
      .option('--admin', 'make the user an admin')
      .option('--email <email>', 'email address')
      .option('--comment <text>', 'free text')
      .option('--expire <date>', "last day the account may be used (YYYY-MM-DD, UTC), or 'never' (the default)")
      .option('--disabled', 'create the account disabled')
      .option('--tfa <type>', 'second factor to enrol now: totp, yubico or none (default: what the realm enforces)')
      .option('--totp-secret <base32>', 'TOTP secret to use instead of a random one, or @FILE to read it from a file')
      .option('--yubico-otp <otp>', 'an OTP from the user\'s YubiKey (touch it), to register the key')
      .option('--aes-key <hex>', 'the YubiKey\'s AES key, or @FILE, for offline validation')
      .option('--private-id <hex>', 'the YubiKey\'s private id, or @FILE, for offline validation')
      .addOption(new Option('--code <code>', 'TOTP verification code of --totp-secret; - reads it from standard input, @FILE from a file (after a new secret is shown); asked on a terminal').conflicts('verify'))
      .option('--no-verify', 'store the TOTP factor without a verification code (admins provisioning accounts; audited)')
      .option('--qr <target>', 'where to show the TOTP QR code: terminal (the default), none, png:FILE or svg:FILE')
      .option('--description <text>', "what to call the factor --tfa (or the realm) enrols, e.g. the phone's name (default: TOTP or YubiKey)")
      .option('--recovery-keys', 'also create the ten single-use recovery keys (shown once, as tfa add recovery)')
      .option('--recovery-output <file>', 'write the recovery keys to this new file (mode 0600), not shown (--json still holds them); implies --recovery-keys');
    leaf(user, 'list', 'list users', () => import('./commands/user/list.js'))
      .option('--realm <realm>', 'only users of this realm (case does not matter)')
      .option('--wide', WIDE);
    leaf(user, 'show', 'show one user', () => import('./commands/user/show.js')).argument('<userid>', USERID);
    leaf(user, 'modify', 'change a user', () => import('./commands/user/modify.js'))
      .argument('<userid>', USERID)
      .option('--admin', 'make the user an admin')
      .option('--no-admin', 'take admin rights away')
      .option('--email <email>', 'email address (empty to clear)')
      .option('--comment <text>', 'free text (empty to clear)')
      .option('--expire <date>', "last day the account may be used (YYYY-MM-DD, UTC), or 'never'")
      .addOption(new Option('--disabled', 'disable the account').conflicts('enable'))
      .option('--enable', 'enable the account');
    leaf(user, 'import', 'add users in bulk from CSV (with a header) or JSON Lines; - reads standard input', () =>
      import('./commands/user/import.js'),
    )
      .argument(
        '<file>',
        `a regular file or - (at most ${describeSize(INPUT_LIMITS.importFile)}); fields: userid, password, admin, email, comment, expire, tfa (totp, totp:BASE32, recovery joined with +)`,
      )
      .option('--update', 'update existing users instead of skipping them')
      .option('--atomic', 'all or nothing: any bad row imports nothing')
      .option('--results <file>', 'also write each row\'s result (with secrets) to this new 0600 file as it commits, one JSON line each')
      .addOption(new Option('--dry-run', 'check every row and say what it would do; nothing is changed and no secrets are made').conflicts('results'));
    leaf(user, 'passwd', "set a user's password", () => import('./commands/user/passwd.js')).argument('<userid>', USERID);
    leaf(user, 'delete', 'delete a user and their factors (asks first on a terminal)', () => import('./commands/user/delete.js'))
      .argument('<userid>', USERID)
      .option('--yes', 'do not ask; needed without a terminal');
    leaf(user, 'logout', 'end every session of a user that login --session kept, on any host', () => import('./commands/user/logout.js')).argument('<userid>', USERID);
  });

  group(program, 'realm', 'manage realms', (realm) => {
    leaf(realm, 'add', 'add a realm', () => import('./commands/realm/add.js'))
      .argument('<name>', NEW_REALM)
      .option('--comment <text>', 'free text');
    leaf(realm, 'list', 'list realms', () => import('./commands/realm/list.js')).option('--wide', WIDE);
    leaf(realm, 'show', 'show one realm', () => import('./commands/realm/show.js')).argument('<realm>', REALM);
    leaf(realm, 'delete', 'delete a realm (asks first on a terminal)', () => import('./commands/realm/delete.js'))
      .argument('<realm>', REALM)
      .option('--force', 'also delete the users of the realm')
      .option('--yes', 'do not ask; needed without a terminal');
    const realmSetEnforce = leaf(realm, 'set-enforce', 'require a second factor type for every user of a realm', () =>
      import('./commands/realm/set-enforce.js'),
    )
      .argument('<realm>', REALM)
      // The refusal says which comes first.
      .addArgument(anyCase(new Argument('<type>', 'none, totp or yubico'), ['none', 'totp', 'yubico'], ' (the realm comes first: tfactl realm set-enforce REALM TYPE)'))
      .option('--digits <n>', 'TOTP digits: 6, 7 or 8 (default: as the realm enforces already, else 6)')
      .option('--step <seconds>', 'TOTP period in seconds, 10 to 300 (default: as the realm enforces already, else 30); Proxmox\'s name for it')
      .option('--period <seconds>', 'the same as --step, by the name `tfa add totp` uses')
      .option('--algorithm <name>', 'TOTP hash: SHA1, SHA256 or SHA512 (default: as the realm enforces already, else SHA1)');
    yubicoOptions(realmSetEnforce);
    yubicoOptions(
      leaf(realm, 'set-yubico', 'set how a realm validates YubiKeys, without enforcing them (opt-in keys)', () =>
        import('./commands/realm/set-yubico.js'),
      ).argument('<realm>', REALM),
    ).option('--none', 'remove the realm\'s YubiKey validation');
  });

  group(program, 'tfa', 'manage second factors', (tfa) => {
    const tfaAdd = group(tfa, 'add', 'add a second factor');
    leaf(tfaAdd, 'totp', 'enrol a TOTP authenticator app (QR code, then a verification code)', () => import('./commands/tfa/add-totp.js'))
      .argument('<userid>', USERID)
      .option('--description <text>', 'name of the device or app, e.g. "pixel-7 authy" (asked on a terminal)')
      .option('--issuer <name>', 'issuer shown in the app: up to 64 characters, no colon (default: the totp.issuer setting)')
      .option('--secret <base32>', 'secret to use instead of 160 random bits, or @FILE to read it from a file')
      .option('--algorithm <name>', 'SHA1, SHA256 or SHA512 (default SHA1, or the realm\'s)')
      .option('--digits <n>', '6, 7 or 8 (default 6, or the realm\'s)')
      .option('--period <seconds>', '10 to 300 (default 30, or the realm\'s)')
      .addOption(new Option('--code <code>', 'verification code of --secret from the app; - reads it from standard input, @FILE from a file (after a new secret is shown); asked on a terminal').conflicts('verify'))
      .option('--no-verify', 'store without a verification code (admins provisioning accounts; audited)')
      .option('--qr <target>', 'terminal, none, png:FILE or svg:FILE', 'terminal');
    leaf(tfaAdd, 'yubico', 'register a YubiKey from one OTP (touch the key)', () => import('./commands/tfa/add-yubico.js'))
      .argument('<userid>', USERID)
      .requiredOption('--otp <otp>', 'an OTP from the key')
      .option('--aes-key <hex>', 'the key\'s AES key (32 hex digits), or @FILE, for offline validation; stored encrypted')
      .option('--private-id <hex>', 'the key\'s private id (12 hex digits), or @FILE, for offline validation; stored encrypted')
      .option('--description <text>', 'name of the key (default "YubiKey")');
    leaf(tfaAdd, 'webauthn', 'register a security key or passkey: on a page in your browser, or for a web app with --begin and --finish', () =>
      import('./commands/tfa/add-webauthn.js'),
    )
      .argument('<userid>', USERID)
      .option('--description <text>', 'name of the key, e.g. "yubikey 5 nfc" (default "security key"; asked on a terminal)')
      .option('--port <port>', 'the page\'s port on 127.0.0.1 (default: a free one); forward it with ssh -L over SSH')
      .option('--no-open', 'never start a browser here: only print the page\'s address')
      .option('--page', 'start the page also without a terminal (at a terminal it starts anyway)')
      .option('--begin', 'for a web app: hand out a registration challenge (creation options, JSON) to answer within 120 s')
      .option('--finish', "for a web app: answer a challenge from --begin with the browser's RegistrationResponseJSON (--response)")
      .option('--challenge <id>', 'the challenge --begin handed out')
      .option('--response <file>', "the browser's RegistrationResponseJSON, from a file, or - for one line of standard input")
      .option('--rp-id <id>', 'with --begin: the RP id the credential is made for (default: the webauthn.rp-id setting)')
      .option('--origin <url>', 'with --begin: the origin the answer comes from, one of the webauthn.origin setting (or http://localhost:PORT for RP id localhost); repeatable', (v: string, all: string[] = []) => [...all, v]);
    leaf(tfaAdd, 'recovery', 'create the single-use recovery keys (10, shown once)', () => import('./commands/tfa/add-recovery.js'))
      .argument('<userid>', USERID)
      .option('--output <file>', 'write the keys to this new file (mode 0600); not shown then (--json still holds them)')
      .option('--regenerate', 'replace the existing keys')
      .option('--yes', 'do not ask before replacing');
    leaf(tfa, 'list', 'list second factors (never secrets), lock state, and who cannot sign in', () => import('./commands/tfa/list.js')).argument(
      '[userid]',
      `only this user (default: everyone you may see, users without factors too): ${USERID}`,
    )
      .option('--realm <realm>', 'only the users of this realm')
      .option('--wide', WIDE);
    leaf(tfa, 'delete', 'delete a second factor', () => import('./commands/tfa/delete.js'))
      .argument('<userid>', USERID)
      .argument('[id]', 'factor id, or a unique start of it, at least 4 characters (see tfa list)')
      .addOption(anyCase(new Option('--type <type>', 'delete every factor of this kind'), ['totp', 'recovery', 'yubico', 'webauthn', 'u2f']))
      .option('--all', 'delete every factor of the user')
      .option('--yes', 'with --type or --all: do not ask; needed without a terminal');
    leaf(tfa, 'enable', 'enable a second factor', () => import('./commands/tfa/enable.js'))
      .argument('<userid>', USERID)
      .argument('<id>', 'factor id, or a unique start of it, at least 4 characters');
    leaf(tfa, 'disable', 'disable a second factor', () => import('./commands/tfa/disable.js'))
      .argument('<userid>', USERID)
      .argument('<id>', 'factor id, or a unique start of it, at least 4 characters');
    leaf(tfa, 'modify', 'change what a second factor is called (its description)', () => import('./commands/tfa/modify.js'))
      .argument('<userid>', USERID)
      .argument('<id>', 'factor id, or a unique start of it, at least 4 characters (see tfa list)')
      .option('--description <text>', 'name of the device or app, e.g. "pixel-7 authy"');
    leaf(tfa, 'unlock', 'lift TOTP and second-factor lockouts and the password ban', () => import('./commands/tfa/unlock.js')).argument('<userid>', USERID);
  });

  leaf(program, 'login', 'sign in: password, then a second factor if the user has one', () => import('./commands/login.js'))
    .argument('<userid>', USERID)
    .option('--code <code>', 'second factor: a TOTP code, a recovery key or a YubiKey OTP; - reads it from standard input, @FILE from a file (asked on a terminal)')
    .addOption(anyCase(new Option('--type <type>', 'what --code is (default: told from its shape)'), ['totp', 'recovery', 'yubico']))
    .option('--begin', 'only check the password and hand out a challenge for the second factor (for web apps; answer it with --finish within 120 s)')
    .option('--finish', 'answer a challenge from --begin, with --response or --code')
    .option('--challenge <id>', 'the challenge --begin handed out')
    .option('--response <file>', "the answer to the challenge (a code, a browser's AuthenticationResponseJSON, a raw U2F answer or fido2-assert's lines), from a file, or - for the next line of standard input")
    .option('--webauthn', 'sign in with a security key on a page in your browser, also without a terminal (at a terminal it is offered anyway)')
    .option('--no-browser', 'never offer the browser page: type a code, or paste what fido2-assert prints')
    .option('--no-open', 'offer the page, but never start a browser here: only print its address')
    .option('--rp-id <id>', 'with --begin: the WebAuthn RP id the browser asks for (default: the webauthn.rp-id setting)')
    .option('--origin <url>', 'with --begin: the origin the answer comes from, one of the webauthn.origin setting; repeatable (default: all of them)', (v: string, all: string[] = []) => [...all, v])
    .option('--session', 'keep a session: later --as commands of this user need no sign-in until it expires (session.minutes) (default on a terminal)')
    .option('--no-session', 'keep no session, also on a terminal');
  leaf(program, 'logout', 'end the sessions kept here by login: the one of USERID, or every one', () => import('./commands/logout.js')).argument('[userid]', USERID);

  leaf(program, 'serve', "answer tfactl's API on a Unix socket (the store's owner runs it; see the README)", () => import('./commands/serve/serve.js'))
    .option('--socket <path>', 'the Unix socket to listen on (default /run/tfactl/tfactl.sock, or the one systemd passes)')
    .option('--listen <host:port>', 'also listen on TCP (port 0: a free one): with --tls-cert and --tls-key, or plain HTTP on a loopback address only')
    .option('--tls-cert <file>', 'the TLS certificate chain (PEM) for --listen')
    .option('--tls-key <file>', 'its private key (PEM)');

  group(program, 'token', 'API tokens: credentials for scripts and CI jobs that act as a user', (token) => {
    leaf(token, 'add', 'make an API token for a user; its value is shown once', () => import('./commands/token/add.js'))
      .argument('<userid>', USERID)
      .argument('<name>', 'the token\'s name: 1 to 32 letters, digits, ".", "_" or "-", starting with a letter')
      .addOption(anyCase(new Option('--privileges <privileges>', 'what it may do: what its user may (inherit), or only look (read-only)'), ['inherit', 'read-only']).default('inherit'))
      .option('--expire <date>', 'the last day it works, YYYY-MM-DD (default: never)')
      .option('--comment <text>', 'what it is for');
    leaf(token, 'list', 'list API tokens: a user\'s, or every one (admins); never their values', () => import('./commands/token/list.js'))
      .argument('[userid]', USERID)
      .option('--wide', WIDE);
    leaf(token, 'delete', 'revoke an API token at once', () => import('./commands/token/delete.js'))
      .argument('<userid>', `${USERID}; or USERID!NAME, as token list shows a token`)
      .argument('[name]', 'the token\'s name');
  });

  group(program, 'settings', 'store-wide settings (admins read them; root@local changes them)', (settings) => {
    leaf(settings, 'list', 'list settings and their values', () => import('./commands/settings/list.js')).option('--wide', WIDE);
    leaf(settings, 'set', 'change a setting', () => import('./commands/settings/set.js'))
      .argument('<key>')
      .argument('<value>')
      .option('--force', 'change webauthn.rp-id or u2f.appid even though security keys were made under the current value (they stop working for sign-ins)');
    leaf(settings, 'unset', 'put a setting back to its default', () => import('./commands/settings/unset.js'))
      .argument('<key>')
      .option('--force', 'unset webauthn.rp-id or u2f.appid even though security keys were made under the current value (they stop working for sign-ins)');
  });

  leaf(program, 'backup', 'write a consistent snapshot of the store to a new file (keep the key file with it)', () =>
    import('./commands/backup.js'),
  ).argument('<file>');
  leaf(program, 'restore', 'replace the store with a checked backup (root@local only)', () => import('./commands/restore.js'))
    .argument('<file>', `a backup tfactl wrote (a regular file, at most ${describeSize(INPUT_LIMITS.backup)})`)
    .addOption(new Option('--yes', 'do not ask before replacing the store').conflicts('dryRun'))
    .option('--dry-run', 'check the backup and say what it would bring back that was revoked since it was made; change nothing');

  group(program, 'export', 'export for other systems (admins)', (exporting) => {
    leaf(exporting, 'totp', 'export TOTP secrets in plain text (audited)', () => import('./commands/export/totp.js'))
      .addOption(anyCase(new Option('--format <format>', 'csv, uri (one otpauth URI a line) or png-dir (a QR code a factor)'), ['csv', 'uri', 'png-dir']).default('csv'))
      .option('--output <path>', 'a new file (mode 0600), or a new directory for png-dir (default: standard output)');
    leaf(exporting, 'users', 'export realms, users and factor metadata as JSON, without secrets', () => import('./commands/export/users.js'));
  });

  group(program, 'import', 'import from other systems (admins)', (importing) => {
    leaf(
      importing,
      'proxmox',
      `import realms, users and factors from Proxmox VE (all or nothing); each file a regular file of at most ${describeSize(INPUT_LIMITS.proxmoxFile)}`,
      () => import('./commands/import/proxmox.js'),
    )
      .requiredOption('--tfa-cfg <file>', "Proxmox's /etc/pve/priv/tfa.cfg")
      .requiredOption('--user-cfg <file>', "Proxmox's /etc/pve/user.cfg")
      .option('--domains-cfg <file>', "Proxmox's /etc/pve/domains.cfg (realms and what they enforce)")
      .option('--datacenter-cfg <file>', "Proxmox's /etc/pve/datacenter.cfg: its webauthn and u2f lines become the store's WebAuthn/U2F settings (root@local only); other lines are ignored")
      .option('--dry-run', 'show what would be imported, change nothing');
  });

  group(program, 'pam', 'tfactl as the second factor of a PAM stack (sshd after an SSH key), through pam_exec.so', (pam) => {
    const pamRealm = (cmd: Command) => cmd.option('--realm <realm>', 'the realm whose users the login names are (default local)');
    const pamPassword = (cmd: Command) => cmd.option('--password', "tfactl's password and the code typed as one, for a service with no other first factor (sudo, login)");
    pamPassword(pamRealm(leaf(pam, 'prompt', "tell the user what to type at the next prompt (pam_exec.so stdout, on the line before 'pam check'); for a security key, the line to run fido2-assert with", PAM_LEAVES['pam prompt']))).option(
      '--nullok',
      "as 'pam check --nullok' is given: tell a user without a second factor to press Enter (without it, that they cannot sign in)",
    );
    pamPassword(pamRealm(
      leaf(pam, 'check', 'check the second factor of PAM_USER that pam_exec.so expose_authtok passes on standard input (a code, or fido2-assert\'s output on one line), as login does; exit 0 lets PAM go on', PAM_LEAVES['pam check']),
    )).option('--nullok', 'let a user pass who has no second factor and whose realm enforces none (refused otherwise)');
    pamRealm(
      leaf(pam, 'config', 'print the PAM lines for this tfactl and store (and the sshd_config settings they need); with --server and --token @FILE, lines that check through that service with that admin token', () => import('./commands/pam/config.js')).addArgument(
        new Argument('[service]', 'the PAM service: sshd (a code after the SSH key), or sudo or login (tfactl password and code); default sshd').choices(['sshd', 'sudo', 'login']),
      ),
    )
      .option('--nullok', "carry --nullok into the 'pam prompt' and 'pam check' lines")
      .addOption(new Option('--client <client>', 'with --server: what PAM runs to ask the service, a shell and curl (bin/tfactl-pam-curl, the default when curl is installed) or node (tfactl itself)').choices(['curl', 'node']));
  });

  group(program, 'audit', 'the audit trail: show it (tfactl audit is audit list), or remove its oldest entries (root@local; admins may --dry-run)', (audit) => {
    const list = leaf(audit, 'list', 'show the audit trail (what tfactl audit runs)', () => import('./commands/audit/list.js'), { isDefault: true })
      .option('--user <userid>', 'only entries where this user acted or was acted on (entries from before user ids ignored case keep the id as it was written)')
      .option('--since <date>', 'only entries from this day (YYYY-MM-DD, UTC) on')
      .option('--until <date>', 'only entries up to this day (YYYY-MM-DD, UTC), that day included')
      .option('--limit <n>', 'the newest N entries (default 100)')
      .option('--all', 'every entry, oldest first')
      .option('--action <action>', 'only entries of this action (login, tfa.add, ...), or of a group of them (tfa: tfa.add, tfa.delete, ...); sign-in: every sign-in (login, --as, API tokens, the service\'s API, PAM)')
      .addOption(anyCase(new Option('--outcome <outcome>', 'only entries with this outcome'), ['ok', 'refused', 'failed']))
      .option('--wide', WIDE);
    leaf(audit, 'prune', 'remove the entries older than a day or a number of days, in batches, with an entry saying so (root@local only)', () => import('./commands/audit/prune.js'))
      .option('--before <date>', 'remove the entries from before this day (YYYY-MM-DD, UTC; today at the latest)')
      .option('--keep-days <n>', 'remove the entries older than N days (N times 24 hours before now); neither this nor --before: the days the setting audit.keep-days keeps')
      .option('--dry-run', 'say how many entries would go; remove nothing')
      .addOption(new Option('--yes', 'do not ask before removing them').conflicts('dryRun'));
    // `tfactl audit --help` is where one looks for the filters `tfactl audit` takes: list's, shown.
    audit.addHelpText('after', () => {
      const options = /\nOptions:\n([\s\S]*?)(?:\n\n|\n?$)/.exec(list.helpInformation())?.[1];
      return options ? `\nOptions of audit list, which tfactl audit runs when no command is named:\n${options.replace(/^ +-h, --help .*\n?/m, '').trimEnd()}` : '';
    });
  });

  leaf(program, 'completion', 'print the completion script for a shell (see README "Shell completions")', () =>
    import('./commands/completion.js'),
  ).addArgument(anyCase(new Argument('<shell>', 'bash, zsh or fish'), ['bash', 'zsh', 'fish']));
  // What the completion scripts offer for user ids, factor ids and realms: never prompts, never fails.
  leaf(program, '__complete', 'print user ids, factor ids of a user, realms or setting names from the store', () => import('./commands/complete.js'), {
    hidden: true,
  })
    .addArgument(anyCase(new Argument('<kind>'), ['users', 'factors', 'realms', 'settings']))
    .argument('[userid]', 'whose factors (factors), or what has been typed of a user id (users: only those that start with it)');

  refuseContradictions(program);
  addHelp(program);
  return program;
}

/**
 * A flag and its `--no-` form on one command line (`--admin --no-admin`) contradict each other, and
 * commander, giving both one attribute, would silently keep the last: refused (exit 2) instead. The
 * options' own events say which were given, whatever else the line holds.
 */
function refuseContradictions(cmd: Command): void {
  // An option of one value given twice with different values (`--privileges read-only --privileges
  // inherit`) contradicts itself the same way. Repeatable ones (--url) gather theirs with a parser
  // of their own (one of choices only checks). The values are not shown: one may be a secret
  // (--totp-secret, --auth-code).
  for (const single of cmd.options.filter((o) => (o.required || o.optional) && !o.variadic && (o.parseArg === undefined || o.argChoices !== undefined))) {
    let first: string | undefined;
    cmd.on(`option:${single.name()}`, (value: unknown) => {
      const given = String(value);
      if (first !== undefined && first !== given) throw new UsageError(`${single.long} is given twice, with different values: give it once`, 'conflicting_options');
      first = given;
    });
  }
  for (const negated of cmd.options.filter((o) => o.negate)) {
    const positive = cmd.options.find((o) => !o.negate && o.attributeName() === negated.attributeName());
    if (positive === undefined) continue;
    const given = new Set<Option>();
    for (const option of [positive, negated]) {
      cmd.on(`option:${option.name()}`, () => {
        given.add(option);
        if (given.size === 2) throw new UsageError(`${positive.long} and ${negated.long} contradict each other: give one of them`, 'conflicting_options');
      });
    }
  }
  for (const sub of cmd.commands) refuseContradictions(sub);
}
