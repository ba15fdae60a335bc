import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/context.js';
import { createOutput } from '../../src/output.js';

/** An Io whose standard error is a terminal, kept. */
function terminalIo(): { io: Io; stderr: () => string } {
  let written = '';
  const io: Io = {
    stdout: { write: () => true, isTTY: true, columns: 80 },
    stderr: { write: (t: string) => (written += t), isTTY: true },
    stdinIsTTY: true,
    stdinChunks: async function* () {},
    readLine: async () => null,
    onInterrupt: () => () => undefined,
  };
  return { io, stderr: () => written };
}

describe('the status line (a countdown rewritten in place)', () => {
  it('is cleared before any other line on stderr, so that line starts at the left and stands alone', async () => {
    const { io, stderr } = terminalIo();
    const out = await createOutput(io, { json: false, env: { NO_COLOR: '1' } });
    out.status('waiting: 120 s left');
    out.instruct('Open http://localhost:1234/x/ in your browser.');
    out.status('waiting: 119 s left');
    out.warn('something');
    out.note('a note');
    out.status('');
    out.instruct('after');
    expect(stderr()).toBe(
      '\r\x1b[Kwaiting: 120 s left' +
        '\r\x1b[KOpen http://localhost:1234/x/ in your browser.\n' +
        '\r\x1b[Kwaiting: 119 s left' +
        '\r\x1b[Kwarning: something\n' +
        'a note\n' +
        '\r\x1b[K' +
        'after\n',
    );
  });
});
