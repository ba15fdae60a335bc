import type { ParsedCommand } from './remote/client.js';

/**
 * The command lines pam_exec runs at every sign-in, as `tfactl pam config` prints them:
 *
 *   [--db D | --server S --token @F] [--json] [--debug]  pam check  [--realm R] [--password] [--nullok]
 *   [--db D | --server S --token @F] [--json] [--debug]  pam prompt [--realm R] [--password] [--nullok]
 *
 * each option at most once, in any order within its group, and no value that starts with a dash.
 * Read here as commander reads them (test/unit/pam-argv.test.ts compares the two, on such lines and
 * on lines that are not): the result is what commander gives the leaf, or null for any other
 * command line, which goes to the command tree. A sign-in does not wait for the tree to be built.
 */
export function parsePamArgv(argv: readonly string[]): PamLine | null {
  const opts: Record<string, unknown> = {};
  let i = 0;
  // Reads options of `spec` from argv[i] on, into opts; false on anything else but `stop`.
  const options = (spec: Readonly<Record<string, readonly [key: string, takesValue: boolean]>>, stop: string | null): boolean => {
    for (; i < argv.length && argv[i] !== stop; i++) {
      const entry = Object.hasOwn(spec, argv[i] as string) ? spec[argv[i] as string] : undefined;
      if (entry === undefined) return false;
      const [key, takesValue] = entry;
      if (Object.hasOwn(opts, key)) return false;
      if (!takesValue) {
        opts[key] = true;
        continue;
      }
      const value = argv[++i];
      if (value === undefined || value.startsWith('-')) return false;
      opts[key] = value;
    }
    return true;
  };
  if (!options(GLOBAL, 'pam') || argv[i] !== 'pam') return null;
  const sub = argv[i + 1];
  if (sub !== 'check' && sub !== 'prompt') return null;
  i += 2;
  if (!options(LEAF, null)) return null;
  return { command: `pam ${sub}` as const, args: [], opts };
}

/** The longest answer `pam check` reads: a browser's or fido2-assert's answer fits many times over. */
export const PAM_ANSWER_MAX_BYTES = 16 * 1024;

/**
 * How long a PAM line waits for tfactl serve, all told, before it refuses the sign-in (exit 6):
 * a service that has stopped answering (stopped, swapped out) must not hold a login, and leave a
 * process behind it, for ever. bin/tfactl-pam-curl gives curl the same (--max-time 60); the
 * service itself ends a sign-in held up by a lock at 30 s.
 */
export const PAM_SERVICE_WAIT_MS = 60_000;

/** The commands PAM runs (pam_exec), read here and run as root by PAM: see leaf-route.ts's PAM_RUNS. */
export const PAM_COMMANDS = ['pam check', 'pam prompt'] as const;

export type PamLine = ParsedCommand & { readonly command: (typeof PAM_COMMANDS)[number] };

/** The global options such a line may carry, by flag: the option's key and whether it takes a value. */
const GLOBAL = { '--db': ['db', true], '--server': ['server', true], '--token': ['token', true], '--json': ['json', false], '--debug': ['debug', false] } as const;
/** The options of `pam check` and `pam prompt` (the prompt says what --nullok lets through). */
const LEAF = { '--realm': ['realm', true], '--password': ['password', false], '--nullok': ['nullok', false] } as const;

