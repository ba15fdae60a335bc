/**
 * Examples shown at the end of each command's --help (and in the man page), by command path
 * ('' is tfactl itself). Each is a line to type as it stands and what it does, in one line.
 * test/help-examples.test.ts runs every one of them against a scratch store: keep them working.
 */
export interface HelpExample {
  /** What the line does, for a person reading the help: one line. */
  readonly does: string;
  /** The command line, as typed in a POSIX shell. */
  readonly line: string;
}

// A factor id as `tfactl tfa list` shows it: its start, which is enough while no other shares it.
const FACTOR_ID = '3f1c9a2e';

const ex = (does: string, line: string): HelpExample => ({ does, line });

export const HELP_EXAMPLES: Readonly<Record<string, readonly HelpExample[]>> = {
  '': [
    ex('Add alice: password twice, a QR code to scan, then a code from the app', 'tfactl user add alice --tfa totp'),
    ex('Sign in as alice: her password, then the code her app shows', 'tfactl login alice'),
    ex("See alice's second factors (never their secrets)", 'tfactl tfa list alice'),
    ex('The same as JSON, for scripts', 'tfactl tfa list alice --json'),
    ex('Help on one command, with its examples', 'tfactl help user add'),
  ],
  init: [
    ex('Create the default store and its key file (safe to run again)', 'tfactl init'),
    ex('Create a store of its own elsewhere, e.g. to try tfactl out', 'tfactl --db ~/tfactl-trial.db init'),
  ],

  user: [
    ex('List every user', 'tfactl user list'),
    ex('Add a user, asking for the password', 'tfactl user add carol'),
    ex('Add one from a script: the password comes on standard input', `printf '%s\\n' "$PASSWORD" | tfactl user add dave@corp --password-stdin`),
  ],
  'user add': [
    ex('Add carol: password twice, a QR code to scan, then a code from the app', 'tfactl user add carol --tfa totp'),
    ex('In a script: the password on standard input, nothing asked', `printf '%s\\n' "$PASSWORD" |\n    tfactl user add dave@corp --password-stdin --email dave@example.com`),
    ex('Provision an account: no password yet, its QR code to a file', 'tfactl user add erin --no-password --tfa totp --no-verify \\\n    --qr png:erin-qr.png'),
    ex('The same, with recovery keys in a file to hand over too', 'tfactl user add finn --no-password --tfa totp --no-verify \\\n    --qr png:finn-qr.png --recovery-output finn-keys.txt'),
    ex('Add an admin whose account ends with 2030', `printf '%s\\n' "$PASSWORD" |\n    tfactl user add ops --password-stdin --admin --expire 2030-12-31`),
  ],
  'user list': [
    ex('Every user, with realm, admin rights and whether they may sign in', 'tfactl user list'),
    ex('Only the users of realm corp', 'tfactl user list --realm corp'),
    ex('As JSON, for scripts', 'tfactl user list --json'),
  ],
  'user show': [
    ex('One user of the built-in realm local', 'tfactl user show alice'),
    ex('A user of another realm, as JSON', 'tfactl user show bob@corp --json'),
  ],
  'user modify': [
    ex('Make bob an admin', 'tfactl user modify bob@corp --admin'),
    ex('Change an email address and a comment', "tfactl user modify alice --email alice@example.com --comment 'on call'"),
    ex('Keep bob from signing in, without deleting him', 'tfactl user modify bob@corp --disabled'),
    ex("Take away an account's expiry date", 'tfactl user modify bob@corp --expire never'),
  ],
  'user import': [
    ex('Add the users of a CSV file with a header (userid,password,...)', 'tfactl user import users.csv'),
    ex('Update those that exist; every result (secrets too) to a new 0600 file', 'tfactl user import users.csv --update --results results.jsonl'),
    ex('JSON Lines on standard input, all or nothing', 'tfactl user import - --atomic < users.jsonl'),
    ex('What each row would do (exit 2 if any would fail); nothing changed', 'tfactl user import users.csv --update --dry-run'),
  ],
  'user passwd': [
    ex("Set alice's password, asking for it twice", 'tfactl user passwd alice'),
    ex('In a script: the new password on standard input', `printf '%s\\n' "$NEW_PASSWORD" | tfactl user passwd alice --password-stdin`),
  ],
  'user delete': [
    ex('Delete bob and his second factors (asks first)', 'tfactl user delete bob@corp'),
    ex('In a script, without asking', 'tfactl user delete bob@corp --yes'),
  ],

  realm: [
    ex('List realms, what they enforce and how many users they have', 'tfactl realm list'),
    ex('Add a realm for a group of users', "tfactl realm add dev --comment 'developers'"),
    ex('Require TOTP from every user of realm corp', 'tfactl realm set-enforce corp totp'),
  ],
  'realm add': [
    ex('Add the realm dev; its users are name@dev', 'tfactl realm add dev'),
    ex('With a comment', "tfactl realm add dev --comment 'developers'"),
  ],
  'realm list': [ex('Every realm', 'tfactl realm list'), ex('As JSON', 'tfactl realm list --json')],
  'realm show': [ex('What realm corp enforces and how it validates YubiKeys', 'tfactl realm show corp')],
  'realm delete': [
    ex('Delete an empty realm (asks first)', 'tfactl realm delete lab'),
    ex('Delete a realm and its users, without asking', 'tfactl realm delete corp --force --yes'),
  ],
  'realm set-enforce': [
    ex('Require TOTP in corp (it warns about users left unable to sign in)', 'tfactl realm set-enforce corp totp'),
    ex('TOTP with 8 digits, 60 seconds and SHA256 for every new authenticator', 'tfactl realm set-enforce corp totp \\\n    --digits 8 --period 60 --algorithm SHA256'),
    ex("Require YubiKeys, checked offline with each key's AES key", 'tfactl realm set-enforce corp yubico --offline'),
    ex("Require YubiKeys, checked by Yubico's cloud (the API key from a file)", 'tfactl realm set-enforce corp yubico \\\n    --api-id 12345 --api-key @yubico-api.key'),
    ex('Stop requiring a second factor', 'tfactl realm set-enforce corp none'),
  ],
  'realm set-yubico': [
    ex("Let corp's users add YubiKeys, checked offline", 'tfactl realm set-yubico corp --offline'),
    ex('Check them with your own validation server', 'tfactl realm set-yubico corp --api-id 12345 --api-key @yubico-api.key \\\n    --url https://otp.example.com/wsapi/2.0/verify'),
    ex("Remove corp's YubiKey validation", 'tfactl realm set-yubico corp --none'),
  ],

  tfa: [
    ex('Add an authenticator app for alice (QR code, then a code from it)', 'tfactl tfa add totp alice'),
    ex('Give bob ten single-use recovery keys', 'tfactl tfa add recovery bob@corp'),
    ex('Every second factor of every user, and who is locked out', 'tfactl tfa list'),
  ],
  'tfa add': [
    ex('An authenticator app: QR code, then a code from the app', "tfactl tfa add totp alice --description 'work phone'"),
    ex('Recovery keys, written to a new 0600 file to print (not shown)', 'tfactl tfa add recovery bob@corp --output bob-recovery.txt'),
    ex('A YubiKey, its realm set up by realm set-yubico: touch it after --otp', 'tfactl tfa add yubico alice \\\n    --otp cccjgjgkhcbbirdrfdnlnghhfgrtnnlgedjlftrbdeut'),
  ],
  'tfa add totp': [
    ex('Show a QR code to scan, then ask for a code from the app', "tfactl tfa add totp alice --description 'work phone'"),
    ex('Bring a secret from another system (from a file), checked with a code', `tfactl tfa add totp bob@corp --secret @bob-totp.txt --code "$CODE"`),
    ex('For someone else: QR code to a file, no code checked (audited)', 'tfactl tfa add totp alice --no-verify --qr svg:alice-qr.svg'),
  ],
  'tfa add yubico': [
    ex("Register alice's YubiKey by its public id (touch it to type the OTP)", 'tfactl tfa add yubico alice \\\n    --otp cccjgjgkhcbbirdrfdnlnghhfgrtnnlgedjlftrbdeut'),
    ex('For offline validation: with the AES key (from a file) and private id', 'tfactl tfa add yubico alice \\\n    --otp cccjgjgkhcbbirdrfdnlnghhfgrtnnlgedjlftrbdeut \\\n    --aes-key @alice-yubikey.aes --private-id 8792ebfe26cc'),
  ],
  'tfa add webauthn': [
    ex('Register a key on a page in your browser (over SSH: run its ssh -L)', "tfactl tfa add webauthn alice --description 'yubikey 5 nfc'"),
    ex('On a fixed port, without starting a browser here', 'tfactl tfa add webauthn alice --port 8765 --no-open'),
    ex("For a web app: creation options for the page's navigator.credentials", 'tfactl tfa add webauthn alice --begin \\\n    --origin http://localhost:8080 --json'),
    ex("Then store the key from the browser's RegistrationResponseJSON", 'tfactl tfa add webauthn alice --finish \\\n    --challenge "$challenge" --response answer.json'),
  ],
  'tfa add recovery': [
    ex('Ten single-use keys, shown once: print them', 'tfactl tfa add recovery bob@corp'),
    ex('Write them to a new 0600 file, not shown (--json still holds them)', 'tfactl tfa add recovery bob@corp --output bob-recovery.txt'),
    ex('Replace the set: the old keys stop working', 'tfactl tfa add recovery alice --regenerate --yes'),
  ],
  'tfa list': [
    ex('Every factor of every user you may see, and lockouts', 'tfactl tfa list'),
    ex("Alice's factors and their ids", 'tfactl tfa list alice'),
    ex('As JSON', 'tfactl tfa list alice --json'),
  ],
  'tfa delete': [
    ex('Delete one factor: its id in tfa list, or any start of it no other has', `tfactl tfa delete alice ${FACTOR_ID}`),
    ex("Delete alice's recovery keys, without asking", 'tfactl tfa delete alice --type recovery --yes'),
    ex("Delete all of bob's factors (asks first)", 'tfactl tfa delete bob@corp --all'),
  ],
  'tfa enable': [ex('Enable a factor again', `tfactl tfa enable alice ${FACTOR_ID}`)],
  'tfa disable': [ex('Stop a lost phone from signing in, keeping its record', `tfactl tfa disable alice ${FACTOR_ID}`)],
  'tfa modify': [ex('Say which phone a TOTP factor is on', `tfactl tfa modify alice ${FACTOR_ID} --description "pixel-7 authy"`)],
  'tfa unlock': [ex("Lift alice's TOTP and second-factor locks and her password ban", 'tfactl tfa unlock alice')],

  login: [
    ex('Sign in: the password, then the code the app shows', 'tfactl login alice'),
    ex('In a script: the password and the code on standard input', `printf '%s\\n' "$PASSWORD" "$CODE" |\n    tfactl login alice --password-stdin --code -`),
    ex('With a recovery key kept in a file', `printf '%s\\n' "$PASSWORD" |\n    tfactl login alice --password-stdin --type recovery --code @key.txt`),
    ex('With a security key, on a page in your browser', 'tfactl login alice --webauthn'),
    ex('Over plain SSH: paste what fido2-assert prints', 'tfactl login alice --no-browser'),
    ex(
      'For a web app, in two halves: the password, then the code',
      `challenge=$(printf '%s\\n' "$PASSWORD" |\n    tfactl login alice --begin --password-stdin --json |\n    grep -o '"challenge":"[^"]*"' | head -n 1 | cut -d '"' -f 4) && \\\nprintf '%s\\n' "$CODE" |\n    tfactl login alice --finish --challenge "$challenge" --response -`,
    ),
  ],

  pam: [ex('The lines for /etc/pam.d/sshd: a code after the SSH key', 'tfactl pam config sshd')],
  'pam prompt': [ex('What alice is told to type (PAM sets PAM_USER; the store is --db)', 'PAM_USER=alice tfactl --db "$TFACTL_DB" pam prompt')],
  'pam check': [ex("alice's code as pam_exec passes it (no line end)", 'printf %s "$CODE" |\n    PAM_USER=alice tfactl --db "$TFACTL_DB" pam check')],
  'pam config': [
    ex('Login names as users of realm corp; no factor, no entry', 'tfactl pam config sshd --realm corp'),
    ex('Let users without a second factor in', 'tfactl pam config sshd --nullok'),
    ex('For sudo: the tfactl password and the code, typed as one', 'tfactl pam config sudo'),
    ex('Checks through the tfactl service, with an admin token', 'tfactl pam config sshd --server /run/tfactl/tfactl.sock \\\n    --token @/etc/tfactl/pam.token'),
  ],

  serve: [ex("The API on a socket (the store's owner runs it; SIGTERM stops it)", 'tfactl serve --socket /run/tfactl/tfactl.sock')],
  logout: [ex('End every session kept here by login', 'tfactl logout'), ex("End alice's session here", 'tfactl logout alice')],
  'user logout': [ex("End alice's sessions on every host (a lost laptop)", 'tfactl user logout alice')],

  token: [
    ex("An API token for alice's deploy job: its value is shown once", "tfactl token add alice deploy --comment 'deploy job'"),
    ex('Every token, and when each was last used', 'tfactl token list'),
  ],
  'token add': [
    ex('A token that stops working after 2027', "tfactl token add alice nightly --expire 2027-12-31 --comment cron"),
    ex('A token that may only look, for monitoring', 'tfactl token add alice monitor --privileges read-only'),
  ],
  'token list': [ex("alice's tokens, when each was last used", 'tfactl token list alice'), ex('Every token (admins)', 'tfactl token list --json')],
  'token delete': [ex("Revoke alice's token old-job at once", 'tfactl token delete alice old-job')],

  settings: [
    ex('Every setting and its value', 'tfactl settings list'),
    ex('Lock TOTP after 5 wrong codes in a row', 'tfactl settings set lockout.totp-failures 5'),
  ],
  'settings list': [ex('Every setting and its value', 'tfactl settings list'), ex('As JSON', 'tfactl settings list --json')],
  'settings set': [
    ex('The issuer authenticator apps show', "tfactl settings set totp.issuer 'Example Corp'"),
    ex('Ban password sign-ins for 30 minutes after too many failures', 'tfactl settings set lockout.password-ban-seconds 1800'),
    ex('Keep a year of audit entries (tfactl serve prunes the rest hourly)', 'tfactl settings set audit.keep-days 365'),
    ex('The domain new WebAuthn credentials are bound to', 'tfactl settings set webauthn.rp-id example.com'),
    ex('Move to another domain: keys made under the old one stop working', 'tfactl settings set webauthn.rp-id login.example.com --force'),
    ex('The addresses WebAuthn answers may come from', "tfactl settings set webauthn.origin \\\n    'https://pve.example.com:8006 https://sso.example.com'"),
  ],

  'settings unset': [
    ex('The issuer authenticator apps show is tfactl@HOSTNAME again', 'tfactl settings unset totp.issuer'),
    ex('Lock TOTP after the default 8 wrong codes again', 'tfactl settings unset lockout.totp-failures'),
  ],

  backup: [ex("A dated snapshot while others keep working (keep the key file with it)", 'tfactl backup "tfactl-$(date +%F).db"')],
  restore: [
    ex('First see what it would bring back that was revoked since', 'tfactl restore tfactl-backup.db --dry-run'),
    ex('Replace the store with a backup, without asking', 'tfactl restore tfactl-backup.db --yes'),
  ],

  export: [
    ex('Realms, users and factor metadata as JSON, no secrets', 'tfactl export users > tfactl-users.json'),
    ex('Every TOTP secret as otpauth URIs, to a new 0600 file', 'tfactl export totp --format uri --output totp-uris.txt'),
  ],
  'export totp': [
    ex('CSV to a new 0600 file', 'tfactl export totp --output totp.csv'),
    ex('One otpauth URI a line, on standard output', 'tfactl export totp --format uri'),
    ex('A QR code image per factor, in a new directory', 'tfactl export totp --format png-dir --output totp-qr'),
  ],
  'export users': [ex('Realms, users and factor metadata, without secrets', 'tfactl export users > tfactl-users.json')],

  import: [
    ex("See what Proxmox VE's files would bring, changing nothing", 'tfactl import proxmox --tfa-cfg tfa.cfg --user-cfg user.cfg --dry-run'),
  ],
  'import proxmox': [
    ex('What files copied from a Proxmox VE node would bring (no changes)', 'tfactl import proxmox --tfa-cfg tfa.cfg --user-cfg user.cfg \\\n    --domains-cfg domains.cfg --dry-run'),
    ex('Import it all, or nothing if anything is wrong', 'tfactl import proxmox --tfa-cfg tfa.cfg --user-cfg user.cfg \\\n    --domains-cfg domains.cfg'),
    ex(
      'Also the WebAuthn/U2F settings the credentials are bound to (root only)',
      'tfactl import proxmox --tfa-cfg tfa.cfg --user-cfg user.cfg \\\n    --domains-cfg domains.cfg --datacenter-cfg datacenter.cfg',
    ),
  ],

  audit: [
    ex('The newest 100 entries (audit list)', 'tfactl audit'),
    ex('Keep a year of entries: from cron, say, daily (root@local)', 'tfactl audit prune --keep-days 365 --yes'),
  ],
  'audit list': [
    ex('The newest 20 entries', 'tfactl audit --limit 20'),
    ex('What alice did, or was done to her, since a day', 'tfactl audit --user alice --since 2025-01-01'),
    ex('Everything of one month', 'tfactl audit --since 2025-03-01 --until 2025-03-31 --all'),
    ex('Failed sign-ins, however made (login, --as, tokens, PAM)', 'tfactl audit --action sign-in --outcome failed'),
    ex('As JSON', 'tfactl audit --json'),
  ],
  'audit prune': [
    ex('How many entries are older than 90 days; nothing removed', 'tfactl audit prune --keep-days 90 --dry-run'),
    ex('Remove the entries from before 2025, asking first', 'tfactl audit prune --before 2025-01-01'),
    ex('Keep a year of entries, from a script or cron', 'tfactl audit prune --keep-days 365 --yes'),
    ex('Or as many days as the setting audit.keep-days says', 'tfactl audit prune --yes'),
  ],
  completion: [
    ex('bash, in this shell only', 'source <(tfactl completion bash)'),
    ex('bash, for good (with the bash-completion package)', 'mkdir -p ~/.local/share/bash-completion/completions && \\\n    tfactl completion bash \\\n    > ~/.local/share/bash-completion/completions/tfactl'),
    ex('zsh: a directory on $fpath, before compinit runs', 'mkdir -p ~/.zsh/completions && \\\n    tfactl completion zsh > ~/.zsh/completions/_tfactl'),
    ex('fish', 'mkdir -p ~/.config/fish/completions && \\\n    tfactl completion fish > ~/.config/fish/completions/tfactl.fish'),
  ],
  help: [
    ex('Every command, the global options and the exit codes', 'tfactl help'),
    ex('One command, with examples', 'tfactl help user add'),
    ex('A group of commands', 'tfactl help tfa'),
  ],
};
