// A worker thread's share of a ledger check (ADR-048): one run of rows of the SQLite file, on a connection of its own.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { checkChunk } from './ledger-chunks.js';

const { path, after, upTo } = workerData as { path: string; after: number; upTo: number };
const db = new Database(path, { fileMustExist: true });
try {
  // Only reads: the file is the serving process's, opened here without migrations or pragmas that write.
  db.pragma('query_only = ON');
  parentPort?.postMessage(checkChunk(db, after, upTo));
} finally {
  db.close();
}
