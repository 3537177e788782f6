/**
 * The stdio transport to an upstream MCP server, started in its own process
 * group and stopped as a whole group. An upstream is often a wrapper
 * (`npx -y …` runs npm, which runs a shell, which runs the server): the
 * SDK's own transport signals only the wrapper, and the server it started
 * lives on, holding the pipes open, so the command that started it (e.g.
 * `mandate upstream pin`) could not exit until it went away by itself.
 *
 * Here the upstream is spawned detached (a new process group on POSIX); on
 * close, and whenever its first process exits, the whole group gets SIGTERM,
 * then SIGKILL after a grace period, and the pipes are released.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { ReadBuffer, serializeMessage, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';

export interface GroupStdioParams {
  command: string;
  args?: string[] | undefined;
  /** Added to the SDK's short list of safe variables (HOME, PATH, USER, ...). */
  env?: Record<string, string> | undefined;
  cwd?: string | undefined;
  /** Largest message accepted (bounds the read buffer). */
  maxBufferSize?: number | undefined;
  /** How long the upstream gets to exit after its stdin closes, and after SIGTERM (default 2 s each). */
  graceMs?: number | undefined;
}

const OWN_GROUP = process.platform !== 'win32';

export class GroupStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child: ChildProcess | undefined;
  private readonly readBuffer: ReadBuffer;
  private readonly stderrStream = new PassThrough();
  private readonly graceMs: number;
  private exited: Promise<void> = Promise.resolve();
  private pipesClosed: Promise<void> = Promise.resolve();
  private finished = false;

  constructor(private readonly params: GroupStdioParams) {
    this.readBuffer = new ReadBuffer({ maxBufferSize: params.maxBufferSize });
    this.graceMs = params.graceMs ?? 2_000;
  }

  /** The upstream's stderr, available before start so that no early output is lost. */
  get stderr(): PassThrough {
    return this.stderrStream;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  start(): Promise<void> {
    if (this.child) return Promise.reject(new Error('GroupStdioTransport already started'));
    return new Promise((resolveStart, rejectStart) => {
      const child = spawn(this.params.command, this.params.args ?? [], {
        env: { ...getDefaultEnvironment(), ...this.params.env },
        cwd: this.params.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
        detached: OWN_GROUP,
        windowsHide: true,
      });
      this.child = child;
      this.exited = new Promise((done) => child.once('exit', () => done()));
      this.pipesClosed = new Promise((done) => child.once('close', () => done()));
      child.once('error', (err) => {
        rejectStart(err);
        this.onerror?.(err);
        this.finish();
      });
      child.once('spawn', () => resolveStart());
      // The first process exited: whatever it started goes with it, then the pipes are read to their end and released.
      child.once('exit', () => {
        void this.stopGroup(false)
          .then(() => this.within(this.pipesClosed, this.graceMs))
          .then(() => this.finish());
      });
      child.once('close', () => this.finish());
      child.stdin?.on('error', (err) => this.onerror?.(err));
      child.stdout?.on('data', (chunk: Buffer) => {
        try {
          this.readBuffer.append(chunk);
          this.readMessages();
        } catch (err) {
          this.onerror?.(err as Error);
          void this.close();
        }
      });
      child.stdout?.on('error', (err) => this.onerror?.(err));
      child.stderr?.on('error', () => undefined);
      child.stderr?.pipe(this.stderrStream);
    });
  }

  private readMessages(): void {
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.readBuffer.readMessage();
      } catch (err) {
        this.onerror?.(err as Error);
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.finished) return Promise.reject(new Error('Not connected'));
    return new Promise((done) => {
      if (stdin.write(serializeMessage(message))) done();
      else stdin.once('drain', done);
    });
  }

  /** Closes stdin, gives the upstream `graceMs` to exit, then ends its whole process group. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.finished) return;
    try {
      child.stdin?.end();
    } catch {
      // already closed
    }
    if (child.exitCode === null && child.signalCode === null) await this.within(this.exited, this.graceMs);
    await this.stopGroup(true);
    await this.within(this.pipesClosed, this.graceMs);
    this.finish();
  }

  /**
   * SIGTERM to the group, SIGKILL after the grace period to whatever is left.
   * `waitForLeader`: also wait for the first process itself (when it has not exited yet).
   */
  private async stopGroup(waitForLeader: boolean): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    const pid = child.pid;
    if (!this.signal(pid, 'SIGTERM')) return;
    const deadline = Date.now() + this.graceMs;
    while (Date.now() < deadline && this.alive(pid)) await new Promise((done) => setTimeout(done, 50));
    if (this.alive(pid)) this.signal(pid, 'SIGKILL');
    if (waitForLeader) await this.within(this.exited, this.graceMs);
  }

  /** Signals the upstream's group (or, without groups, its first process); false when nothing is left to signal. */
  private signal(pid: number, sig: NodeJS.Signals | 0): boolean {
    try {
      if (!OWN_GROUP) return this.child?.kill(sig) ?? false;
      process.kill(-pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  private alive(pid: number): boolean {
    return this.signal(pid, 0);
  }

  private async within(p: Promise<void>, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise<void>((done) => (timer = setTimeout(done, ms)))]);
    clearTimeout(timer);
  }

  /** Releases the pipes and reports the end once. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const child = this.child;
    child?.stdin?.destroy();
    child?.stdout?.destroy();
    child?.stderr?.unpipe(this.stderrStream);
    child?.stderr?.destroy();
    this.stderrStream.end();
    this.readBuffer.clear();
    this.onclose?.();
  }
}
