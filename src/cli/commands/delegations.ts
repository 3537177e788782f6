import { readFileSync } from 'node:fs';
import { agentKeyUnit } from '../../http/api-keys.js';
import type { TreeNode } from '../../kernel/delegation/lifecycle.js';
import { DELEGATE_ID, DelegationRequestSchema } from '../../kernel/delegation/request.js';
import { KernelError } from '../../kernel/kernel.js';
import { attenuateToken, mintToken } from '../../kernel/delegation/token.js';
import { readPublicKey } from '../../anchor/signing-key.js';
import { EXIT, UsageError, operatorName, printJson, withRuntime } from '../common.js';

export interface DelegationsCreateOptions {
  workspace?: string;
  parent?: string;
  request?: string;
  key?: boolean;
  as?: string;
}

/**
 * Creates a sub-mandate on a parent's behalf: the request (a JSON file, or
 * `-` for stdin) is decided as the parent's own `delegate` call, so it is
 * refused, escalated or accepted exactly as the parent would be. With
 * --key, the child gets an agent key, printed once.
 */
export async function delegationsCreate(opts: DelegationsCreateOptions): Promise<number> {
  if (!opts.parent) throw new UsageError('name the delegating agent: --parent <id>');
  if (!opts.request) throw new UsageError('give the request: --request <file.json> (or - for stdin)');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(opts.request === '-' ? 0 : opts.request, 'utf8'));
  } catch (err) {
    throw new UsageError(`--request: ${(err as Error).message}`);
  }
  const parsed = DelegationRequestSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`--request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ')}`);
  const operator = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async ({ kernel, store }) => {
    const outcome = await kernel.govern({ agent: opts.parent as string, intent: { capability: DELEGATE_ID, params: parsed.data, rationale: `created by operator ${operator}` }, channel: 'cli' });
    let key: string | undefined;
    if (outcome.verdict === 'accepted' && opts.key) {
      const minted = agentKeyUnit(kernel.deps.world, parsed.data.child, `operator:${operator}`, `sub-mandate of ${opts.parent as string}`);
      if ((await store.commit(minted.unit)).ok) key = minted.key;
    }
    printJson({ outcome, ...(key ? { key } : {}) });
    return outcome.verdict === 'accepted' ? EXIT.ok : EXIT.failed;
  });
}

export async function delegationsTree(opts: { workspace?: string; root?: string; json?: boolean }): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    const tree = await kernel.delegationTree(opts.root);
    if (opts.json) {
      printJson(tree);
      return EXIT.ok;
    }
    if (!tree.length) process.stdout.write('no sub-mandates\n');
    for (const root of tree) print(root, '');
    return EXIT.ok;
  });
}

function print(n: TreeNode, indent: string): void {
  const budgets = n.grants.flatMap((g) => g.budgets.map((b) => `${g.capability} ${b.field}/${b.window} ${b.remaining} of ${b.max} left`));
  const what = n.status === 'contract' ? `contract (${n.owner ?? 'no owner'})` : `${n.status}, expires ${n.expires_at}`;
  process.stdout.write(`${indent}${n.agent}  ${what}${n.grants.length ? `  [${n.grants.map((g) => g.capability).join(', ')}]` : ''}${budgets.length ? `  ${budgets.join('; ')}` : ''}\n`);
  for (const c of n.children) print(c, `${indent}  `);
}

export async function delegationsShow(child: string, opts: { workspace?: string }): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ kernel, store }) => {
    const row = await store.delegations.byChild(child);
    if (!row) throw new UsageError(`no sub-mandate for \`${child}\``);
    const chain = (await kernel.delegations.chain(child)) ?? [];
    printJson({ ...row, grants: JSON.parse(row.grants) as unknown, memory: JSON.parse(row.memory) as unknown, expires_at: new Date(row.expires_at).toISOString(), chain: chain.map((l) => l.agent) });
    return EXIT.ok;
  });
}

/** Revokes a sub-mandate, every one below it, and all their keys. */
export async function delegationsRevoke(child: string, opts: { workspace?: string; as?: string; reason?: string }): Promise<number> {
  const operator = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    try {
      const ended = await kernel.revokeDelegation(child, { kind: 'operator', id: operator }, opts.reason ?? null);
      if (!ended.length) {
        process.stderr.write(`mandate: the sub-mandate of \`${child}\` has already ended\n`);
        return EXIT.failed;
      }
      for (const r of ended) process.stdout.write(`revoked ${r.id} (${r.child})\n`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof KernelError) throw new UsageError(err.message);
      throw err;
    }
  });
}

/** Mints the Biscuit token of a live sub-mandate, signed with the workspace key (printed once; it is a bearer credential). */
export async function delegationsToken(child: string, opts: { workspace?: string }): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ store, signingKey, kernel }) => {
    if (!signingKey) throw new UsageError('this workspace has no signing key (mandate.yaml `signing:`), so it issues no tokens');
    const row = await store.delegations.byChild(child);
    if (!row || row.status !== 'live' || row.expires_at <= kernel.deps.world.now()) throw new UsageError(`no live sub-mandate for \`${child}\``);
    process.stdout.write(`${await mintToken(signingKey, { agent: child, delegationId: row.id, expiresAt: row.expires_at })}\n`);
    return EXIT.ok;
  });
}

/** Appends a narrower block to a token, offline: only the workspace's public key is needed. */
export async function delegationsAttenuate(token: string, opts: { pubkey?: string; check?: string }): Promise<number> {
  if (!opts.pubkey) throw new UsageError('give the workspace public key: --pubkey <file> (keys/signing.pub)');
  if (!opts.check) throw new UsageError('give the narrower block: --check \'check if value("amount_minor", $a), $a <= 5000;\'');
  try {
    process.stdout.write(`${await attenuateToken(token, readPublicKey(opts.pubkey), opts.check)}\n`);
  } catch (err) {
    throw new UsageError(`cannot attenuate: ${(err as Error)?.message ?? String(err)}`);
  }
  return EXIT.ok;
}
