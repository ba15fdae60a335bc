import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_FRAME, readFrames, type Frame } from '../../src/remote/frames.js';

/** Feeds `pieces` to readFrames and collects what it makes of them. */
async function decode(pieces: readonly Buffer[], head = Buffer.alloc(0)) {
  const socket = new PassThrough();
  const frames: Frame[] = [];
  const ended = new Promise<string | undefined>((resolve) => readFrames(socket, head, (f) => frames.push(f), resolve));
  for (const p of pieces) socket.write(p);
  socket.end();
  return { frames, why: await ended };
}

/** `text` cut at the given byte offsets (which may split a character). */
function cut(text: string, offsets: number[]): Buffer[] {
  const bytes = Buffer.from(text);
  const at = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let last = 0;
  for (const o of [...at, bytes.length]) {
    pieces.push(bytes.subarray(last, o));
    last = o;
  }
  return pieces;
}

const frame = fc.record({ t: fc.constantFrom('out', 'reply', 'file', 'start'), s: fc.string({ unit: 'grapheme' }), id: fc.nat() });

describe('the CLI protocol\'s frames', () => {
  it('come out as they went in, however the stream cuts them (characters too)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), fc.nat(), async (sent, offsets, headLength) => {
        const text = sent.map((f) => `${JSON.stringify(f)}\n`).join('');
        const pieces = cut(text, offsets);
        const head = Buffer.concat(pieces).subarray(0, headLength % 4);
        const rest = Buffer.concat(pieces).subarray(head.length);
        const { frames, why } = await decode([rest], head);
        expect(frames).toEqual(sent);
        expect(why).toBeUndefined();
        const again = await decode(pieces);
        expect(again.frames).toEqual(sent);
      }),
    );
  });

  it('end the conversation at the first line that is not a frame', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string().filter((s) => !s.includes('\n')), fc.constant('[1,2]'), fc.constant('{"t":3}'), fc.constant('null')), async (junk) => {
        const isFrame = (text: string) => {
          try {
            const v = JSON.parse(text) as unknown;
            return v !== null && typeof v === 'object' && typeof (v as Frame).t === 'string';
          } catch {
            return false;
          }
        };
        fc.pre(!isFrame(junk));
        const { frames, why } = await decode([Buffer.from(`{"t":"out"}\n${junk}\n{"t":"exit"}\n`)]);
        expect(frames).toEqual([{ t: 'out' }]);
        expect(why).toBe('a line that is not a frame');
      }),
    );
  });

  it('refuse a line longer than MAX_FRAME without waiting for its end', async () => {
    const { frames, why } = await decode([Buffer.from('{"t":"out","s":"'), Buffer.alloc(MAX_FRAME + 10, 'a')]);
    expect(frames).toEqual([]);
    expect(why).toBe(`a line over ${MAX_FRAME} bytes`);
  });
});
