import type { Ctx } from './context.js';
import { failed, leafContext, throughService } from './leaf-route.js';
import { colourWanted, createOutput } from './output.js';
import { parsePamArgv } from './pam-argv.js';
import { processContext, type StoreOpener } from './process-context.js';

/**
 * The second entry, bundled on its own (dist/tfactl-pam.cjs): what pam_exec runs at every sign-in
 * when the check goes through a tfactl service (`pam check` and `pam prompt` with --server, as
 * `pam config --server` prints them). Such a run only sends its command line to the service and
 * writes what comes back, so it is started without the command tree, the store or node:crypto:
 * a PAM conversation pays little more than a bare node (npm run bench, section 6).
 *
 * Runs `argv` when it is such a line and no terminal is involved, exactly as main() would (the same
 * parse, route, service conversation, output and exit codes); returns undefined for any other, which
 * main() then runs.
 */
export async function runPam(argv: readonly string[], ctx: Ctx): Promise<number | undefined> {
  const parsed = parsePamArgv(argv);
  if (parsed?.opts.server === undefined) return undefined;
  // PAM gives its programs no terminal. On one (someone trying the line by hand), or with
  // FORCE_COLOR, colours and prompts may be wanted: main() has them, this entry leaves them out
  // (scripts/build.mjs).
  const colour = colourWanted(ctx.io, ctx.env);
  if (ctx.io.stdinIsTTY || ctx.io.stdout.isTTY || ctx.io.stderr.isTTY || colour.stdout || colour.stderr) return undefined;
  const debug = parsed.opts.debug === true && ctx.remote === undefined;
  const out = await createOutput(ctx.io, { json: parsed.opts.json === true, env: ctx.env });
  try {
    const code = await throughService(argv, leafContext(ctx, parsed.command), out, parsed, debug);
    // --server always routes to a service (remote/route.ts): a run here would need the command tree.
    if (code === undefined) throw new Error(`${parsed.command} did not go to the service it names`);
    return code;
  } catch (e) {
    return failed(out, e, debug);
  }
}

/** A run of this entry always goes to a service: it has no store to open, and bundles none. */
const NO_STORE: StoreOpener = () => () => Promise.reject(new Error('the PAM entry opens no store: its runs go to a tfactl service'));

/** Runs this process's command line when it is one of PAM's; false hands it to main(). */
export async function runPamProcess(): Promise<boolean> {
  const code = await runPam(process.argv.slice(2), processContext(NO_STORE));
  if (code === undefined) return false;
  process.exitCode = code;
  return true;
}
