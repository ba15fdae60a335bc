import { describe, expect, it } from 'vitest';
import { processContext } from '../../src/main.js';
import type { Frame } from '../../src/remote/frames.js';
import { acceptCliRun, fileBudget, type FileBudget, type Transport } from '../../src/remote/server.js';

/**
 * What every run of a service holds of the files its client sent, together, is bounded
 * (ServiceSide.files): a client past the bound is turned away as busy, and what a run held is given
 * back when it ends. acceptCliRun with transports driven by hand; no command ever starts.
 */
function conversation(budget: FileBudget) {
  const base = processContext();
  const sent: Frame[] = [];
  let onFrame: (f: Frame) => void = () => undefined;
  let close = () => undefined as void;
  const ended = new Promise<void>((resolve) => (close = resolve));
  const transport: Transport = {
    send: (f) => void sent.push(f),
    listen: (frame) => void (onFrame = frame),
    end: close,
    destroy: close,
    ended,
  };
  const run = acceptCliRun(transport, { storePath: '/nonexistent/tfactl.db', keyPath: '/nonexistent/key', base, log: () => undefined, storeFor: () => base.openStore, files: budget });
  const piece = (path: string, bytes: number) => onFrame({ t: 'file', path, data: Buffer.alloc(bytes, 1).toString('base64'), more: true });
  return { sent, piece, close, ended, run };
}

describe("a service's budget for the files clients send", () => {
  it('turns away, as busy, a client whose files would pass it, and takes nothing of that piece', () => {
    const budget = fileBudget(3000);
    const a = conversation(budget);
    a.piece('/a', 2000);
    expect(budget.held()).toBe(2000);
    const b = conversation(budget);
    b.piece('/b', 800);
    b.piece('/b', 800);
    expect(b.sent).toContainEqual({ t: 'busy', message: 'the tfactl service holds as many files of other commands as it may: try again shortly' });
    expect(b.sent.at(-1)).toEqual({ t: 'exit', code: 6 });
    // b gave back what it had taken when it was turned away.
    expect(budget.held()).toBe(2000);
  });

  it('gives back what a run held when its connection ends', async () => {
    const budget = fileBudget(3000);
    const a = conversation(budget);
    a.piece('/a', 1000);
    a.piece('/a', 1000);
    expect(budget.held()).toBe(2000);
    a.close();
    await a.ended;
    await new Promise((r) => setImmediate(r));
    expect(budget.held()).toBe(0);
    a.run.stop();
  });
});
