import { processContext } from '../../src/main.js';
import type { ErrorFrame, Frame } from '../../src/remote/frames.js';
import { acceptCliRun, type Transport } from '../../src/remote/server.js';

/**
 * Runs a command on the service's side (acceptCliRun, the real command on the SQLite store `db`)
 * for a client made here: `start` is what its start frame holds besides the argv and env, and
 * `answer` replies to each call the run makes of it (undefined: never). Returns the frames sent.
 */
export async function runOnServiceSide(
  db: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  answer: (call: Frame) => { value: unknown } | { error: ErrorFrame } | undefined,
  start: Readonly<Record<string, unknown>> = {},
): Promise<Frame[]> {
  const base = processContext();
  const sent: Frame[] = [];
  let onFrame: (f: Frame) => void = () => undefined;
  let closed = () => undefined as void;
  const ended = new Promise<void>((resolve) => (closed = resolve));
  const transport: Transport = {
    send: (f) => {
      sent.push(f);
      const reply = f.t === 'call' ? answer(f) : undefined;
      if (reply !== undefined) queueMicrotask(() => onFrame({ t: 'reply', id: f.id, ...reply }));
    },
    listen: (frame) => {
      onFrame = frame;
      queueMicrotask(() => frame({ t: 'start', argv: [...argv], env, tty: {}, tickets: false, ...start }));
    },
    end: closed,
    destroy: closed,
    ended,
  };
  acceptCliRun(transport, { storePath: db, keyPath: `${db}.key`, base, log: () => undefined, storeFor: () => base.openStore });
  await ended;
  return sent;
}

/** What the frames of a run say: its exit code, the calls it made and its standard error. */
export function runSaid(sent: readonly Frame[]): { code: number | undefined; calls: unknown[]; stderr: string } {
  const exit = sent.find((f) => f.t === 'exit');
  return {
    code: exit ? Number(exit.code) : undefined,
    calls: sent.filter((f) => f.t === 'call').map((f) => f.fn),
    stderr: sent.filter((f) => f.t === 'out' && f.fd === 2).map((f) => String(f.s)).join(''),
  };
}
