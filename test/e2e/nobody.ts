import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { runBin, startServe, type RunOptions, type RunResult, type TempStore } from './harness.js';

/** The unprivileged OS user the client tests run the CLI as. */
export const NOBODY = 65534;
export const RUNUSER = ['runuser', '-u', 'nobody', '--'];
export const SETPRIV = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];

/**
 * nobody as a client of a tfactl service on `store`, for one test file: a directory whose socket
 * directory is open to everyone (the store's stays root's), nobody's own home in it (their files,
 * their cwd, their $XDG_RUNTIME_DIR). Hooks registered here run before the file's own. (That
 * nobody may reach the checkout at all is test/fixtures/nobody-global.ts, for the whole run.)
 */
export function nobodyAsClient(store: TempStore) {
  const runDir = mkdtempSync(join(tmpdir(), 'tfactl-client-'));
  const home = join(runDir, 'home');
  const runtime = join(home, 'runtime');
  const sock = join(runDir, 'run', 'tfactl.sock');
  beforeAll(() => {
    chmodSync(runDir, 0o755);
    mkdirSync(runtime, { recursive: true, mode: 0o700 });
    for (const dir of [home, runtime]) chownSync(dir, NOBODY, NOBODY);
  });
  afterAll(() => rmSync(runDir, { recursive: true, force: true }));
  return {
    runDir,
    home,
    runtime,
    sock,
    /** The CLI as nobody, through the service; `env` adds to its environment. */
    viaService(args: readonly string[], options: RunOptions & { prefix?: readonly string[] } = {}): Promise<RunResult> {
      return runBin(args, {
        ...options,
        prefix: [...(options.prefix ?? RUNUSER), 'env', '-C', home],
        env: { TFACTL_SERVER: sock, HOME: home, ...options.env },
      });
    },
    /** `tfactl serve` on `store` at `socket`, as its owner. */
    startService: (socket: string, extra: readonly string[] = []) => startServe(socket, store.env, extra),
  };
}
