import { describe, expect, it } from 'vitest';
import { processContext } from '../../src/main.js';
import type { Frame } from '../../src/remote/frames.js';
import { acceptCliRun, fileBudget, type FileBudget, type Transport } from '../../src/remote/server.js';

/**
 * What every run of a service holds of the files its client sent, together, is bounded
 * (ServiceSide.files), beyond the first 64 KiB of each run's (a token file is far smaller): a
 * client past the bound is turned away as busy, and what a run held is given back when it ends.
 * acceptCliRun with transports driven by hand; no command ever starts.
 */
const KiB = 1024;

function conversation(budget: FileBudget) {
  const base = processContext();
  const sent: Frame[] = [];
  let onFrame: (f: Frame) => void = () => undefined;
  let close = () => undefined as void;
  const ended = new Promise<void>((resolve) => (close = resolve));
  const transport: Transport = { send: (f) => void sent.push(f), listen: (frame) => void (onFrame = frame), end: close, destroy: close, ended };
  const run = acceptCliRun(transport, { storePath: '/nonexistent/tfactl.db', keyPath: '/nonexistent/key', base, log: () => undefined, storeFor: () => base.openStore, files: budget });
  const piece = (path: string, bytes: number) => onFrame({ t: 'file', path, data: Buffer.alloc(bytes, 1).toString('base64'), more: true });
  const busy = () => sent.some((f) => f.t === 'busy');
  return { sent, piece, busy, close, ended, run };
}
const settle = () => new Promise((r) => setImmediate(r));

describe("a service's budget for the files clients send", () => {
  it('charges only what passes 64 KiB a run, and turns away as busy a client whose files would pass it', () => {
    const budget = fileBudget(200 * KiB);
    const a = conversation(budget);
    a.piece('/a', 200 * KiB);
    expect(budget.held()).toBe(136 * KiB);
    const b = conversation(budget);
    b.piece('/b', 100 * KiB);
    expect(budget.held()).toBe(172 * KiB);
    b.piece('/b', 100 * KiB);
    expect(b.busy()).toBe(true);
    expect(b.sent).toContainEqual({ t: 'busy', message: 'the tfactl service holds as many files of other commands as it may: try again shortly' });
    expect(b.sent.at(-1)).toEqual({ t: 'exit', code: 6 });
    // b gave back what it had taken when it was turned away; a keeps its own.
    expect(budget.held()).toBe(136 * KiB);
  });

  it('still takes the small files of sign-ins (a token file) when big ones have used it all up', () => {
    const budget = fileBudget(136 * KiB);
    conversation(budget).piece('/big', 200 * KiB);
    expect(budget.held()).toBe(136 * KiB);
    for (let i = 0; i < 50; i++) {
      const pam = conversation(budget);
      pam.piece('/pam.token', 120);
      expect(pam.busy()).toBe(false);
    }
    expect(budget.held()).toBe(136 * KiB);
  });

  it('gives back what a run held when its connection ends', async () => {
    const budget = fileBudget(300 * KiB);
    const a = conversation(budget);
    a.piece('/a', 100 * KiB);
    a.piece('/a', 100 * KiB);
    expect(budget.held()).toBe(136 * KiB);
    a.close();
    await a.ended;
    await settle();
    expect(budget.held()).toBe(0);
    a.run.stop();
  });
});
