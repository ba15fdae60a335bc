import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonNestedDeeperThan, repeatedJsonKey, topLevelJsonKeys } from '../../src/domain/json-keys.js';

describe('repeatedJsonKey', () => {
  it('finds a key given twice in one object, at any depth, escapes and all', () => {
    expect(repeatedJsonKey('{"users":{"alice@pve":{"totp":[]},"alice@pve":{}}}')).toBe('alice@pve');
    expect(repeatedJsonKey('[{"a":1},{"b":[{"c":1,"c":2}]}]')).toBe('c');
    expect(repeatedJsonKey('{"\\u0061":1,"a":2}')).toBe('a');
    expect(repeatedJsonKey('{"a":"\\"a\\"","a":1}')).toBe('a');
  });

  it('lets the same key in different objects, and strings that look like keys, through', () => {
    expect(repeatedJsonKey('{"a":{"a":1},"b":{"a":2}}')).toBeNull();
    expect(repeatedJsonKey('{"a":["a","a"],"b":"a"}')).toBeNull();
    expect(repeatedJsonKey('{"a":"x,\\"a\\":1"}')).toBeNull();
  });

  it('finds nothing in what JSON.stringify writes (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(repeatedJsonKey(JSON.stringify(value))).toBeNull();
      }),
    );
  });
});

describe('topLevelJsonKeys', () => {
  it('gives the outermost object\'s keys in order, repeats included, none of the nested ones', () => {
    expect(topLevelJsonKeys('{"userid":"a","x":{"userid":1},"USERID":"b","userid":"c"}')).toEqual(['userid', 'x', 'USERID', 'userid']);
  });
});

describe('jsonNestedDeeperThan', () => {
  it('counts arrays and objects, not brackets in strings', () => {
    expect(jsonNestedDeeperThan('{"a":[{"b":1}]}', 3)).toBe(false);
    expect(jsonNestedDeeperThan('{"a":[{"b":[1]}]}', 3)).toBe(true);
    expect(jsonNestedDeeperThan('{"a":"[[[[[[\\"[[[["}', 1)).toBe(false);
    expect(jsonNestedDeeperThan('['.repeat(2_000_000), 32)).toBe(true);
  });
  it('agrees with a parse of any JSON value', () => {
    const depth = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0);
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 6 }), (value, max) => {
        expect(jsonNestedDeeperThan(JSON.stringify(value), max)).toBe(depth(value) > max);
      }),
    );
  });
});
