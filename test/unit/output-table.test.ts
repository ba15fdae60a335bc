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

describe('a listing on a terminal', () => {
  /** An Io whose standard output is a terminal `columns` wide; both streams kept. */
  function terminalIo(columns: number | undefined, isTTY = true) {
    let out = '';
    let err = '';
    const io: Io = {
      stdout: { write: (t: string) => (out += t), isTTY, columns },
      stderr: { write: (t: string) => (err += t), isTTY },
      stdinIsTTY: false,
      stdinChunks: async function* () {},
      readLine: async () => null,
      onInterrupt: () => () => undefined,
    };
    return { io, out: () => out, err: () => err };
  }
  const notes: ListView<string> = {
    headers: ['NAME', 'WHEN', 'NOTE'],
    rows: (name) => [[name, '2026-12-01 20:19:18Z', `${name} has a note far too long for a narrow terminal to show whole`]],
    empty: 'none',
    json: (name) => name,
    fit: { narrow: ['NOTE'], drop: ['WHEN'] },
  };

  it('is fitted to the terminal, and says what that left out and how to see it whole', async () => {
    const t = terminalIo(40);
    const out = await createOutput(t.io, { json: false, env: { NO_COLOR: '1' } });
    await out.listOf(['ann', 'bob'], notes);
    expect(t.out()).toBe('NAME  NOTE\nann   ann has a note far too long for a…\nbob   bob has a note far too long for a…\n');
    expect(t.err()).toBe('fitted to 40 columns: WHEN left out, text cut short (--wide shows all)\n');
  });

  it('says so when narrowed as far as it goes and still wider than the terminal, not that it fitted', async () => {
    const t = terminalIo(20);
    const out = await createOutput(t.io, { json: false, env: { NO_COLOR: '1' } });
    await out.listOf(['ann'], notes);
    expect(t.out()).toBe('NAME  NOTE\nann   ann has a not…\n');
    expect(t.err()).toBe('fitted to 20 columns: WHEN left out, text cut short (--wide shows all)\n');
    const narrower = terminalIo(10);
    await (await createOutput(narrower.io, { json: false, env: { NO_COLOR: '1' } })).listOf(['ann'], notes);
    expect(narrower.out()).toBe('NAME  NOTE\nann   ann has…\n');
    expect(narrower.err()).toBe('narrowed for 10 columns, and still 14 wide: WHEN left out, text cut short (--wide shows all)\n');
  });

  it('is printed whole with --wide, through a pipe, and with --json; COLUMNS sets the width', async () => {
    const whole = 'NAME  WHEN                  NOTE\nann   2026-12-01 20:19:18Z  ann has a note far too long for a narrow terminal to show whole\n';
    const wide = terminalIo(40);
    await (await createOutput(wide.io, { json: false, env: { NO_COLOR: '1' } })).listOf(['ann'], notes, { wide: true });
    const piped = terminalIo(undefined, false);
    await (await createOutput(piped.io, { json: false, env: { COLUMNS: '40' } })).listOf(['ann'], notes);
    expect([wide.out(), wide.err(), piped.out(), piped.err()]).toEqual([whole, '', whole, '']);
    const json = terminalIo(40);
    await (await createOutput(json.io, { json: true, env: {} })).listOf(['ann'], notes);
    expect(JSON.parse(json.out())).toEqual({ ok: true, result: ['ann'], warnings: [] });
    const set = terminalIo(200);
    await (await createOutput(set.io, { json: false, env: { NO_COLOR: '1', COLUMNS: '60' } })).listOf(['ann'], notes);
    expect(set.out().split('\n')[1]).toBe('ann   2026-12-01 20:19:18Z  ann has a note far too long for…');
  });
});
