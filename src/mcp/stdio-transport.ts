import type { Readable, Writable } from 'node:stream';
import { parseJSONRPCMessage, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';

/** JSON-RPC error codes this transport answers with itself. */
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;

/** The request id near the start of a line too long to parse, so its caller gets an answer instead of a timeout. */
function leadingId(head: string): string | number | null {
  const m = /"id"\s*:\s*(-?\d{1,15}|"(?:[^"\\]|\\.){0,128}")/.exec(head);
  if (!m) return null;
  try {
    return JSON.parse(m[1] as string) as string | number;
  } catch {
    return null;
  }
}

/**
 * MCP over stdio, one JSON-RPC message per line, with a bound on a line's
 * size. The SDK's transport closes the session when its buffer overflows; this
 * one refuses the one message (skipping its bytes up to the next newline and
 * answering its id with an error) and goes on serving. A line that is not JSON
 * or not a JSON-RPC message gets an error answer too. Streams are injected.
 */
export class BoundedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private chunks: Buffer[] = [];
  private size = 0;
  /** Set while skipping the rest of an oversized line; holds its first bytes. */
  private skipping: string | null = null;
  private skipped = 0;
  private closed = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly stdin: Readable = process.stdin,
    private readonly stdout: Writable = process.stdout,
    /** Called with the size of a refused line (never its content). */
    private readonly onRefused: (bytes: number) => void = () => undefined,
  ) {}

  private readonly ondata = (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, nl < 0 ? chunk.length : nl);
      if (this.skipping !== null) {
        this.skipped += piece.length;
      } else if (this.size + piece.length > this.maxLineBytes) {
        this.skipping = Buffer.concat([...this.chunks, piece]).subarray(0, 512).toString('utf8');
        this.skipped = this.size + piece.length;
        this.chunks = [];
        this.size = 0;
      } else if (piece.length) {
        this.chunks.push(Buffer.from(piece));
        this.size += piece.length;
      }
      if (nl < 0) return;
      this.endLine();
      start = nl + 1;
    }
  };

  private readonly onend = () => void this.close();
  private readonly onstreamerror = (err: Error) => this.onerror?.(err);
  /** The client went away while we wrote (EPIPE): the session is over, as when stdin ends; never an unhandled error that kills the server. */
  private readonly onwriteerror = (err: Error) => {
    this.onerror?.(err);
    void this.close();
  };

  private endLine(): void {
    if (this.skipping !== null) {
      const id = leadingId(this.skipping);
      this.onRefused(this.skipped);
      this.skipping = null;
      this.skipped = 0;
      this.reply(id, INVALID_REQUEST, `message larger than ${this.maxLineBytes} bytes; refused`);
      return;
    }
    const line = Buffer.concat(this.chunks).toString('utf8').replace(/\r$/, '');
    this.chunks = [];
    this.size = 0;
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return this.reply(null, PARSE_ERROR, 'parse error: not JSON');
    }
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(json);
    } catch {
      const id = typeof json === 'object' && json !== null && 'id' in json ? (json as { id: unknown }).id : null;
      return this.reply(typeof id === 'string' || typeof id === 'number' ? id : null, INVALID_REQUEST, 'invalid request: not a JSON-RPC 2.0 message');
    }
    this.onmessage?.(message);
  }

  private reply(id: string | number | null, code: number, message: string): void {
    // JSON-RPC answers a message it cannot read with id null; the SDK's types want a string or number there.
    void this.send({ jsonrpc: '2.0', id, error: { code, message } } as unknown as JSONRPCMessage).catch(() => undefined);
  }

  async start(): Promise<void> {
    this.stdin.on('data', this.ondata);
    this.stdin.on('end', this.onend);
    this.stdin.on('error', this.onstreamerror);
    this.stdout.on('error', this.onwriteerror);
  }

  send(message: JSONRPCMessage): Promise<void> {
    // Nobody reads a closed session's answers; a broken pipe never drains, so a pending send ends with the session.
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.stdout.write(`${JSON.stringify(message)}\n`)) return resolve();
      this.stdout.once('drain', resolve);
      this.stdout.once('close', resolve);
      this.stdout.once('error', () => resolve());
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off('data', this.ondata);
    this.stdin.off('end', this.onend);
    this.stdin.off('error', this.onstreamerror);
    // The error listener stays: a late EPIPE of a write already queued must not become an uncaught exception.
    this.stdin.pause();
    this.chunks = [];
    this.onclose?.();
  }
}
