import { describe, expect, it } from 'vitest';
import { describeErrno, errnoText } from '../../src/domain/errno.js';

describe('describeErrno', () => {
  it('says a known code in words, with the code a search finds', () => {
    expect(describeErrno('ENOENT')).toBe('no such file or directory (ENOENT)');
    expect(describeErrno('ENOSPC')).toBe('no space left on the device (ENOSPC)');
  });

  it('leaves an unknown code as it is, and says error for none', () => {
    expect(describeErrno('EWEIRD')).toBe('EWEIRD');
    expect(describeErrno(undefined)).toBe('error');
    expect(describeErrno('toString')).toBe('toString');
  });

  it("takes a Node system error's code, else the first line of its message", () => {
    expect(errnoText(Object.assign(new Error('open x'), { code: 'EACCES' }))).toBe('permission denied (EACCES)');
    expect(errnoText(new Error('first\nsecond'))).toBe('first');
    expect(errnoText('text')).toBe('text');
  });
});
