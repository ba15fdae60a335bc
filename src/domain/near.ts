/**
 * The name closest to `word` when it is close enough to be a typo, by commander's measure (its
 * suggestSimilar): at most two edits, and more than 40% of the longer of the two left alike. Three
 * edits made `logout` of `bogus`.
 */
export function nearest(word: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    // More than two edits apart by their lengths alone: not measured (a long word would take time).
    if (Math.abs(word.length - name.length) >= bestDistance) continue;
    const d = editDistance(word, name);
    const length = Math.max(word.length, name.length);
    if (d < bestDistance && (length - d) / length > 0.4) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
