import { readFileSync } from 'node:fs';
import { verifyReceipt } from '../../core/receipt.js';
import { EXIT, UsageError } from '../common.js';
import { verifyKey } from '../verify-keys.js';

/**
 * `mandate receipt verify [--pubkey <file>] <receipt.json|->`: checks a signed
 * receipt offline, with nothing but a public key: the one given, else that of
 * the workspace's signing key (mandate.yaml, `-w`). Accepts the
 * receipt itself or a whole answer (an outcome with `signed_receipt`, or a tool
 * result whose `structuredContent` has one).
 */
export function receiptVerify(file: string, opts: { pubkey?: string; workspace?: string; json?: boolean }): number {
  const key = verifyKey(opts.pubkey, opts.workspace);
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch {
    throw new UsageError(`cannot read \`${file}\``);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return report(opts.json, { ok: false, problem: 'not JSON' });
  }
  return report(opts.json, verifyReceipt(pick(value), key));
}

/** The receipt inside whatever was given: the receipt, an outcome, or a tool result. */
function pick(value: unknown): unknown {
  const obj = value as Record<string, unknown> | null;
  if (obj && typeof obj === 'object') {
    if (obj['signed_receipt']) return obj['signed_receipt'];
    const sc = obj['structuredContent'] as Record<string, unknown> | undefined;
    if (sc && typeof sc === 'object' && sc['signed_receipt']) return sc['signed_receipt'];
  }
  return value;
}

function report(json: boolean | undefined, result: ReturnType<typeof verifyReceipt>): number {
  if (json) {
    process.stdout.write(`${JSON.stringify(result.ok ? { ok: true, receipt: result.receipt } : result)}\n`);
  } else if (result.ok) {
    const r = result.receipt;
    process.stdout.write(`receipt valid: decision ${r.decision_id} ${r.verdict} (${r.status}), request ${r.request_hash.slice(0, 16)}…, ledger seq ${r.seq} hash ${r.hash}, key ${r.key_id}\n`);
  } else {
    process.stdout.write(`receipt INVALID: ${result.problem}\n`);
  }
  return result.ok ? EXIT.ok : EXIT.failed;
}
