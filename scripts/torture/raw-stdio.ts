/**
 * A raw line-level MCP client over a real `mandate serve --stdio` process:
 * it can send anything (junk, oversized lines, malformed requests) and
 * collects every answer by id. For the torture suite and the edge tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface RpcAnswer {
  id?: string | number | null;
  result?: { content?: { text?: string }[]; structuredContent?: Record<string, unknown>; isError?: boolean } & Record<string, unknown>;
  error?: { code: number; message: string };
}

export class RawStdio {
  readonly answers = new Map<string | number, RpcAnswer>();
  /** Answers to messages the server could not read (id null). */
  nullAnswers = 0;
  /** stdout lines that were not JSON: the protocol channel was polluted. */
  badLines = 0;
  private buffer = '';
  private stderrText = '';
  private waiters: (() => void)[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  private constructor(readonly proc: ChildProcess) {
    proc.stdout?.on('data', (c: Buffer) => {
      this.buffer += c.toString('utf8');
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (!line.trim()) continue;
        let msg: RpcAnswer;
        try {
          msg = JSON.parse(line) as RpcAnswer;
        } catch {
          this.badLines++;
          continue;
        }
        if (msg.id === null || msg.id === undefined) this.nullAnswers++;
        else this.answers.set(msg.id, msg);
      }
      this.wake();
    });
    proc.stderr?.on('data', (c: Buffer) => {
      // Bounded: the suite only looks for error lines and stacks.
      this.stderrText = (this.stderrText + c.toString('utf8')).slice(-1_000_000);
    });
    proc.on('exit', (code, signal) => {
      this.exitInfo = { code, signal };
      this.wake();
    });
    proc.stdin?.on('error', () => undefined); // EPIPE after a kill
  }

  /** Starts the server and completes the MCP handshake. */
  static async start(cli: string, workspace: string, agent: string, logLevel = 'warn'): Promise<RawStdio> {
    const proc = spawn(process.execPath, [cli, 'serve', '--stdio', '--agent', agent, '-w', workspace, '--log-level', logLevel], { stdio: ['pipe', 'pipe', 'pipe'] });
    const raw = new RawStdio(proc);
    const init = await raw.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'torture', version: '0' } }, 'init', 30_000);
    if (!init.result) throw new Error(`initialize failed: ${JSON.stringify(init)}\n${raw.stderr()}`);
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    return raw;
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  get exited(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.exitInfo;
  }

  stderr(): string {
    return this.stderrText;
  }

  /** Writes one line (a newline is added); resolves once the pipe takes it. */
  send(line: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (!this.proc.stdin || this.proc.stdin.destroyed) return resolve();
      const ok = this.proc.stdin.write(Buffer.concat([Buffer.isBuffer(line) ? line : Buffer.from(line, 'utf8'), Buffer.from('\n')]));
      if (ok) resolve();
      else this.proc.stdin.once('drain', resolve);
    });
  }

  async request(method: string, params: unknown, id: string | number, timeoutMs = 15_000): Promise<RpcAnswer> {
    await this.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return this.answer(id, timeoutMs);
  }

  /** Waits for the answer to `id`; rejects on timeout or if the server exits first. */
  async answer(id: string | number, timeoutMs = 15_000): Promise<RpcAnswer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const a = this.answers.get(id);
      if (a) return a;
      if (this.exitInfo) throw new Error(`server exited (${JSON.stringify(this.exitInfo)}) before answering ${id}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer to ${id} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Closes stdin and waits for the server to exit (SIGKILL after a bound). */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.exitInfo) return;
    this.proc.stdin?.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await new Promise<void>((resolve) => (this.exitInfo ? resolve() : this.proc.once('exit', () => resolve())));
    clearTimeout(t);
  }

  kill9(): void {
    this.proc.kill('SIGKILL');
  }
}

/** The governed outcome inside a tools/call answer, if any. */
export function outcomeOf(a: RpcAnswer): Record<string, unknown> | undefined {
  return a.result?.structuredContent;
}

/** True when an answer is an unstructured failure: INTERNAL_ERROR, or a JSON-RPC internal error (-32603). */
export function isInternalError(a: RpcAnswer): boolean {
  if (a.error?.code === -32603) return true;
  const reasons = outcomeOf(a)?.['reasons'];
  return Array.isArray(reasons) && reasons.includes('INTERNAL_ERROR');
}
