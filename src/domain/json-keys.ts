/**
 * The keys of the objects in a JSON text (valid JSON: JSON.parse took it), as written, repeats
 * included: JSON.parse keeps only the last of a key given twice, so a file that repeats one loses
 * what the earlier one said without a word. Pure.
 */

/** Calls `onKey` with each key and the set of keys of its object so far (before this one). */
function scanKeys(text: string, onKey: (key: string, before: Set<string>, depth: number) => boolean | void): void {
  // One entry per open object (its keys so far) or array (null).
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = open.at(-1);
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (onKey(key, keys, open.length) === true) return;
        keys.add(key);
      }
      expectKey = false;
      i = end;
    } else if (c === '{' || c === '[') {
      open.push(c === '{' ? new Set() : null);
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = open.at(-1) instanceof Set;
    }
  }
}

/** The first key that one object of `text` gives twice, or null. */
export function repeatedJsonKey(text: string): string | null {
  let repeated: string | null = null;
  scanKeys(text, (key, before) => {
    if (!before.has(key)) return false;
    repeated = key;
    return true;
  });
  return repeated;
}

/** The keys of the outermost object of `text`, in order and repeats included. */
export function topLevelJsonKeys(text: string): string[] {
  const keys: string[] = [];
  scanKeys(text, (key, _before, depth) => {
    if (depth === 1) keys.push(key);
  });
  return keys;
}

/**
 * Whether `text` nests arrays and objects deeper than `max` (brackets inside strings not counted).
 * Stops at the first level too deep: a request body of millions of `[` costs JSON.parse most of a
 * second, and this a few characters.
 */
export function jsonNestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
