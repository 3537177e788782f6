/**
 * Names ranked by how alike they are, for "did you mean" hints. A plain edit
 * distance ranks `memo` above `amount_minor` for `amount` (fewer edits);
 * here a name that contains the other, or shares a word with it
 * (`_`-separated), ranks first, then bigram overlap and edit distance.
 */

/** Edit distance (insertions, deletions, substitutions), bounded input. */
function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

function bigrams(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length - 1; i++) out.push(s.slice(i, i + 2));
  return out;
}

/** Dice coefficient of the two names' letter pairs: 0 (none shared) to 1. */
function dice(a: string, b: string): number {
  const x = bigrams(a);
  const y = bigrams(b);
  if (!x.length || !y.length) return a === b ? 1 : 0;
  const pool = [...y];
  let shared = 0;
  for (const g of x) {
    const at = pool.indexOf(g);
    if (at >= 0) {
      shared++;
      pool.splice(at, 1);
    }
  }
  return (2 * shared) / (x.length + y.length);
}

/** How alike two names are, 0 to 1 (case and `-`/`_` ignored for words). */
export function similarity(name: string, candidate: string): number {
  const a = name.toLowerCase().slice(0, 100);
  const b = candidate.toLowerCase().slice(0, 100);
  if (a === b) return 1;
  const words = (s: string) => s.split(/[_\-.]+/).filter((w) => w.length >= 3);
  const lengthRatio = Math.min(a.length, b.length) / Math.max(a.length, b.length);
  if (a.includes(b) || b.includes(a) || words(a).some((w) => words(b).includes(w))) return 0.9 + 0.09 * lengthRatio;
  const edits = 1 - levenshtein(a, b) / Math.max(a.length, b.length);
  return 0.85 * Math.max(dice(a, b), edits);
}

/** `candidates`, most like `name` first (ties keep their order). */
export function rankBySimilarity(name: string, candidates: readonly string[]): string[] {
  return candidates
    .map((c, i) => ({ c, i, s: similarity(name, c) }))
    .sort((x, y) => y.s - x.s || x.i - y.i)
    .map((x) => x.c);
}

/** The candidate most like `name`, if it is alike enough to be a likely misspelling. */
export function closestName(name: string, candidates: readonly string[], atLeast = 0.65): string | undefined {
  const best = rankBySimilarity(name, candidates)[0];
  return best !== undefined && similarity(name, best) >= atLeast ? best : undefined;
}
