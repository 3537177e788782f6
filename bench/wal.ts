/**
 * Reads the frames of a SQLite WAL file (https://sqlite.org/fileformat2.html#walformat),
 * so a scenario can count the pages its commits wrote, deterministically.
 * A 32-byte file header, then per frame a 24-byte header and one page.
 */
import { readFileSync } from 'node:fs';

const FILE_HEADER = 32;
const FRAME_HEADER = 24;
const MAGIC = new Set([0x377f0682, 0x377f0683]);

export interface WalFrame {
  /** The database page the frame holds. */
  page: number;
  /** The last frame of a transaction (its header records the database size after the commit). */
  commit: boolean;
}

export interface Wal {
  /**
   * The header's checkpoint sequence number and salts. A checkpoint that
   * restarts the WAL writes new ones and writes its frames from the start of
   * the file again, so two reads compare only while this stays the same.
   */
  generation: string;
  frames: WalFrame[];
}

/** The committed frames of the WAL's current generation (an empty or absent file has none). */
export function readWal(path: string): Wal {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { generation: '', frames: [] };
    throw e;
  }
  if (buf.length < FILE_HEADER) return { generation: '', frames: [] };
  if (!MAGIC.has(buf.readUInt32BE(0))) throw new Error(`${path} is not a SQLite WAL file`);
  const raw = buf.readUInt32BE(8);
  const pageSize = raw === 1 ? 65_536 : raw;
  const salt1 = buf.readUInt32BE(16);
  const salt2 = buf.readUInt32BE(20);
  const frames: WalFrame[] = [];
  let committed = 0;
  // Frames past the current generation's end are left from before a restart: their salts are the old ones.
  for (let off = FILE_HEADER; off + FRAME_HEADER + pageSize <= buf.length; off += FRAME_HEADER + pageSize) {
    if (buf.readUInt32BE(off + 8) !== salt1 || buf.readUInt32BE(off + 12) !== salt2) break;
    const commit = buf.readUInt32BE(off + 4) !== 0;
    frames.push({ page: buf.readUInt32BE(off), commit });
    if (commit) committed = frames.length;
  }
  // Frames after the last commit frame belong to no committed transaction.
  return { generation: buf.subarray(12, 24).toString('hex'), frames: frames.slice(0, committed) };
}
