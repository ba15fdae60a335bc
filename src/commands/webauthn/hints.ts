import { spawn } from 'node:child_process';
import { type BrowserLaunch, type CeremonyHints, UNKNOWN_SSH_HOST } from '../../domain/ceremony-hints.js';

export { ceremonyHints, type CeremonyHints, type CeremonyHintsInput } from '../../domain/ceremony-hints.js';

/**
 * What the user reads while the loopback page waits (domain/ceremony-hints.ts decides what
 * applies): one note per line, for Output.note.
 */
export function ceremonyHintLines(hints: CeremonyHints): string[] {
  const lines: string[] = [];
  if (hints.sshTunnel) {
    // OpenSSH 9.2 turned the ~C escape off by default, so the tunnel cannot be added to this
    // session: a second connection brings the port over.
    lines.push('This is an SSH session: on the computer with your browser and security key, run in another terminal:');
    lines.push(`  ${hints.sshTunnel.command}`);
    if (!hints.sshTunnel.hostKnown) lines.push(`  (replace ${UNKNOWN_SSH_HOST} with the name you reach this machine by)`);
    lines.push(`then open ${hints.url} in the browser there.`);
  } else {
    lines.push(hints.browser ? `Opening ${hints.url} in your browser (if it does not open, go there yourself).` : `Open ${hints.url} in your browser.`);
  }
  return lines;
}

/** The environment for the browser: the command's, without what names a store, a token or a database password. */
export function browserEnv(env: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('TFACTL_') && !name.startsWith('PG')));
}

/**
 * Starts the desktop's browser on the page and does not wait for it: xdg-open may block until the
 * browser exits, or fail (no browser configured); either way the URL has been printed, so a
 * failure is ignored. `env` is the command's environment (Ctx.env): its PATH finds the program;
 * what names a store, a token or a database password (TFACTL_*, libpq's PG*) is left out of what
 * the browser gets.
 */
export function openBrowser(launch: BrowserLaunch, env: Readonly<Record<string, string | undefined>>): void {
  try {
    const child = spawn(launch.program, [...launch.args], { detached: true, stdio: 'ignore', env: browserEnv(env) });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // Not startable at all (spawn throws synchronously only for invalid arguments): the URL is printed.
  }
}
