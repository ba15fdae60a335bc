import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/context.js';
import { createOutput, TABLE_KEPT_ROWS, TABLE_KEPT_TEXT, type ListView } from '../../src/output.js';

/** An Io whose standard output is kept; nothing is read from it. */
function keptIo(): { io: Io; text: () => string } {
  let written = '';
  const io: Io = {
    stdout: { write: (t: string) => (written += t), isTTY: false, columns: undefined },
    stderr: { write: () => true, isTTY: false },
    stdinIsTTY: false,
    stdinChunks: async function* () {},
    readLine: async () => null,
    onInterrupt: () => () => undefined,
  };
  return { io, text: () => written };
}

const view: ListView<string> = { headers: ['NAME', 'NOTE'], rows: (name) => [[name, `${name} note`]], empty: 'none', json: (name) => name };

/** A listing whose every read gives `names(read)`, counting its reads: as the store's pages change between two reads. */
function listing(names: (read: number) => string[]) {
  let reads = 0;
  return {
    items: () => {
      const these = names(reads++);
      return (async function* () {
        yield* these;
      })();
    },
    reads: () => reads,
  };
}

describe('a table of a listing', () => {
  it('reads a listing that fits in memory once: every row fits its columns, however the store changes', async () => {
    const { io, text } = keptIo();
    const out = await createOutput(io, { json: false, env: {} });
    // A second read would see a longer name than the first.
    const l = listing((read) => (read === 0 ? ['ann', 'bob'] : ['ann', 'bob-with-a-much-longer-name']));
    await out.list(l.items, view);
    expect(l.reads()).toBe(1);
    expect(text()).toBe('NAME  NOTE\nann   ann note\nbob   bob note\n');
  });

  it(`reads one of over ${TABLE_KEPT_ROWS} rows twice, once for the widths, in bounded memory`, async () => {
    const { io, text } = keptIo();
    const out = await createOutput(io, { json: false, env: {} });
    const names = Array.from({ length: TABLE_KEPT_ROWS + 1 }, (_, i) => `u${i}`);
    const l = listing(() => names);
    await out.list(l.items, view);
    expect(l.reads()).toBe(2);
    const lines = text().split('\n');
    expect(lines.length).toBe(TABLE_KEPT_ROWS + 3);
    expect(lines[1]).toBe('u0      u0 note');
    expect(lines.at(-2)).toBe(`u${TABLE_KEPT_ROWS}  u${TABLE_KEPT_ROWS} note`);
  });

  it(`reads one of over ${TABLE_KEPT_TEXT} characters twice, however few its rows (a service runs many at once)`, async () => {
    const { io, text } = keptIo();
    const out = await createOutput(io, { json: false, env: {} });
    const long = 'x'.repeat(TABLE_KEPT_TEXT / 4);
    const l = listing(() => [`a${long}`, `b${long}`, `c${long}`]);
    await out.list(l.items, view);
    expect(l.reads()).toBe(2);
    expect(text().split('\n').length).toBe(5);
  });

  it('says the listing is empty, read once', async () => {
    const { io, text } = keptIo();
    const out = await createOutput(io, { json: false, env: {} });
    const l = listing(() => []);
    await out.list(l.items, view);
    expect([l.reads(), text()]).toEqual([1, 'none\n']);
  });
});
