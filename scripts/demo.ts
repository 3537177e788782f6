/**
 * The demo: a scripted MCP client drives `mandate serve --stdio` through
 * accept, reject, escalate (approved by an operator through the CLI),
 * idempotent replay and a paused agent, then verifies the ledger.
 * It checks every verdict and exits non-zero if one is not as expected.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const started = Date.now();
let failures = 0;

interface Outcome {
  verdict: string;
  reasons: string[];
  decision_id: string;
  dfid: string;
  status: string;
  output?: Record<string, unknown>;
  receipt: { seq: number; hash: string } | null;
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [CLI, ...args], { timeout: 30_000 });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '' };
  }
}

function show(step: string, o: Outcome, expect: { verdict: string; reason?: string }): void {
  const ok = o.verdict === expect.verdict && (!expect.reason || o.reasons.includes(expect.reason));
  if (!ok) failures++;
  const reasons = o.reasons.length ? o.reasons.join(', ') : '-';
  const receipt = o.receipt ? `ledger #${o.receipt.seq} ${o.receipt.hash.slice(0, 12)}…` : 'no receipt';
  console.log(`${ok ? '✔' : '✘'} ${step.padEnd(44)} ${o.verdict.padEnd(9)} ${reasons.padEnd(28)} ${receipt}`);
}

function balance(ws: string): number {
  const book = JSON.parse(readFileSync(join(ws, 'data/books.json'), 'utf8')) as { accounts: { operating: { balance_minor: number } } };
  return book.accounts.operating.balance_minor;
}

const ws = join(mkdtempSync(join(tmpdir(), 'mandate-demo-')), 'workspace');
console.log(`Mandate demo — workspace ${ws}\n`);
await cli('init', ws);
const validated = await cli('validate', '-w', ws);
console.log(validated.stdout.trim());

const transport = new StdioClientTransport({
  command: process.execPath,
  args: [CLI, 'serve', '--stdio', '--agent', 'alice', '-w', ws],
  env: { ...process.env, MANDATE_LOG_LEVEL: 'error' } as Record<string, string>,
  stderr: 'inherit',
});
const client = new Client({ name: 'mandate-demo', version: '1.0.0' });
await client.connect(transport);

const call = async (name: string, args: Record<string, unknown>): Promise<Outcome> =>
  (await client.callTool({ name, arguments: args })).structuredContent as unknown as Outcome;
const transfer = (amount_minor: number, payee = 'acme-supplies', extra: Record<string, unknown> = {}) =>
  call('invoke_capability', { capability: 'payments.transfer', params: { from_account: 'operating', payee, amount_minor, currency: 'EUR' }, ...extra });

const tools = await client.listTools();
console.log(`\nagent alice sees ${tools.tools.length} tools: ${tools.tools.map((t) => t.name).join(', ')}`);
console.log(`operating balance: ${balance(ws)} cents\n`);

show('accept: pay 25.00 to acme-supplies', await transfer(2500, 'acme-supplies', { idempotency_key: 'invoice-1042' }), { verdict: 'accepted' });
const before = balance(ws);
show('replay: same idempotency key again', await transfer(2500, 'acme-supplies', { idempotency_key: 'invoice-1042' }), { verdict: 'accepted', reason: 'IDEMPOTENT_REPLAY' });
if (balance(ws) !== before) failures++;
console.log(`  balance after replay unchanged: ${balance(ws)} cents`);
show('reject: 15.50 that became 15,500.00', await transfer(1_550_000), { verdict: 'rejected', reason: 'CONTRACT_LIMIT_EXCEEDED' });
show('reject: pay a blocked payee', await transfer(500, 'shady-llc'), { verdict: 'rejected', reason: 'POLICY_FORBID' });

const escalated = await transfer(25_000);
show('escalate: pay 250.00 (above 100.00)', escalated, { verdict: 'escalated', reason: 'ESCALATION_REQUIRED' });
const approved = await cli('approvals', 'approve', escalated.decision_id, '--as', 'ops-demo', '--note', 'invoice checked', '-w', ws);
console.log(`  operator approved via CLI (exit ${approved.code})`);
show('get_decision after approval', await call('get_decision', { decision_id: escalated.decision_id }), { verdict: 'accepted' });

const paused = await cli('intervene', 'pause', '--agent', 'alice', '--as', 'ops-demo', '--reason', 'demo', '-w', ws);
console.log(`  operator paused alice via CLI (exit ${paused.code})`);
show('paused agent tries a balance read', await call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } }), { verdict: 'rejected', reason: 'AGENT_PAUSED' });
show('paused agent tries to resume itself', await call('intervene', { action: 'resume', agent: 'alice', reason: 'let me out' }), { verdict: 'rejected', reason: 'INTERVENTION_NOT_ALLOWED' });
await cli('intervene', 'resume', '--agent', 'alice', '--as', 'ops-demo', '-w', ws);
show('resumed by the operator: balance read', await call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } }), { verdict: 'accepted' });
console.log(`\noperating balance: ${balance(ws)} cents`);

await client.close();
const verify = await cli('ledger', 'verify', '-w', ws);
console.log(verify.stdout.trim());
if (verify.code !== 0) failures++;

console.log(`\n${failures ? `${failures} step(s) did not go as expected` : 'every step gave the expected verdict'} — ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (!process.env['MANDATE_DEMO_KEEP']) rmSync(dirname(ws), { recursive: true, force: true });
else console.log(`workspace kept at ${ws}`);
process.exit(failures ? 1 : 0);
