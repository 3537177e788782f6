/**
 * The repository's documentation as the docs tests read it: README.md and
 * every docs/**\/*.md, split into fenced blocks, links, inline code spans and
 * heading anchors. Plain string work, no markdown library: the files are ours
 * and follow one style.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './e2e.js';

export interface DocFile {
  /** Path relative to the repository, e.g. `docs/guides/gateway.md`. */
  path: string;
  text: string;
}

export interface FencedBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's first word (`sh`, `json`, …), or '' when there is none. */
  lang: string;
  body: string;
  /** The reason given by a `<!-- snippet: illustrative: <reason> -->` marker right before the block, if any. */
  optOut: string | null;
}

export interface Link {
  file: string;
  line: number;
  target: string;
}

/** The marker that exempts the next fenced block from its checks; the reason is required. */
export const OPT_OUT = /^<!-- snippet: illustrative: (.+?) -->$/;

/** README.md and docs/**\/*.md. */
export function docFiles(): DocFile[] {
  const found: string[] = [join(REPO_ROOT, 'README.md')];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.md')) found.push(full);
    }
  };
  walk(join(REPO_ROOT, 'docs'));
  return found.sort().map((full) => ({ path: relative(REPO_ROOT, full), text: readFileSync(full, 'utf8') }));
}

/** Reads one documentation file by its path relative to the repository. */
export function readDoc(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

/** Every fenced block of a file, with the opt-out marker that precedes it (blank lines allowed between). */
export function fencedBlocks(file: DocFile): FencedBlock[] {
  const lines = file.text.split('\n');
  const blocks: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(.*)$/.exec(lines[i] as string);
    if (!open) continue;
    const fence = open[1] as string;
    const end = lines.findIndex((l, j) => j > i && l.startsWith(fence) && l.trim() === fence);
    if (end < 0) throw new Error(`${file.path}:${i + 1}: unclosed code fence`);
    let k = i - 1;
    while (k >= 0 && (lines[k] as string).trim() === '') k--;
    const marker = k >= 0 ? OPT_OUT.exec((lines[k] as string).trim()) : null;
    blocks.push({ file: file.path, line: i + 1, lang: (open[2] as string).trim().split(/\s+/)[0] ?? '', body: lines.slice(i + 1, end).join('\n'), optOut: marker ? (marker[1] as string) : null });
    i = end;
  }
  return blocks;
}

/** The file's prose: every line outside fenced blocks, with its 1-based line number. */
export function proseLines(file: DocFile): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | null = null;
  file.text.split('\n').forEach((text, i) => {
    const open = /^(`{3,})/.exec(text);
    if (fence === null && open) fence = open[1] as string;
    else if (fence !== null && text.trim() === fence) fence = null;
    else if (fence === null) out.push({ line: i + 1, text });
  });
  return out;
}

/** Inline code spans of the prose (`like this`). */
export function inlineCode(file: DocFile): { line: number; code: string }[] {
  return proseLines(file).flatMap(({ line, text }) => [...text.matchAll(/(`+)(.+?)\1/g)].map((m) => ({ line, code: m[2] as string })));
}

/** Markdown links `[text](target)` of the prose, outside inline code. */
export function links(file: DocFile): Link[] {
  return proseLines(file).flatMap(({ line, text }) =>
    [...text.replace(/(`+).+?\1/g, '').matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({ file: file.path, line, target: m[1] as string })),
  );
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a file's headings define (duplicates get -1, -2, … as on GitHub). */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { text: line } of proseLines({ path: '', text })) {
    const m = /^#{1,6} (.+)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1] as string);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}
