// Values written into PostgreSQL multi-statement queries as literals: the same text as the driver's own escaping.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { quoted, withLiterals } from '../../src/store/pg/literals.js';

const ODD = [
  '',
  'plain',
  "it's",
  "''",
  '\\',
  'C:\\path\\to',
  "a\\'b",
  "'\\'",
  '{"note":"say \\"hi\\"","path":"C:\\\\x","q":"O\'Brien"}',
  'ünïcödé ✓ 𝄞',
  'line\nbreak\ttab',
  '$1 $2 not parameters',
  'x'.repeat(10_000) + "'" + '\\'.repeat(3),
];

describe('literals for multi-statement queries', () => {
  it('a string is quoted exactly as the driver escapes it, quotes and backslashes included', () => {
    for (const s of ODD) expect(quoted(s)).toBe(pg.escapeLiteral(s));
  });

  it('a statement gets each parameter as a literal, and a value that is not storable is refused', () => {
    expect(withLiterals('INSERT INTO t VALUES ($1, $2, $3, $4, $1)', ["O'Brien", 7, null, true])).toBe("INSERT INTO t VALUES ('O''Brien', 7, NULL, TRUE, 'O''Brien')");
    expect(withLiterals('SELECT $1', ['a\\b'])).toBe("SELECT  E'a\\\\b'");
    expect(() => withLiterals('SELECT $1', [Number.NaN])).toThrow(/cannot store the number NaN/);
    expect(() => withLiterals('SELECT $1', [{ a: 1 }])).toThrow(/cannot store a object/);
  });
});
