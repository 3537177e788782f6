import { mintKey, newCredentialId } from '../../http/api-keys.js';
import type { CredentialRow } from '../../store/port/index.js';
import { EXIT, UsageError, operatorName, printJson, withRuntime } from '../common.js';

export interface KeysCreateOptions {
  workspace?: string;
  agent?: string;
  operator?: string;
  role?: string;
  label?: string;
  as?: string;
  json?: boolean;
}

const NAME = /^[A-Za-z0-9._@-]{1,64}$/;

/**
 * Creates an API key for an agent or an operator. The key is printed once;
 * only its SHA-256 hash is stored. Creation is recorded in the ledger.
 */
export async function keysCreate(opts: KeysCreateOptions): Promise<number> {
  if ((opts.agent === undefined) === (opts.operator === undefined)) throw new UsageError('name exactly one holder: --agent <id> or --operator <name>');
  if (opts.agent !== undefined && opts.role !== undefined) throw new UsageError('--role goes with --operator (an agent key acts as its agent)');
  const role = opts.agent !== undefined ? 'agent' : (opts.role ?? 'operator');
  if (role !== 'agent' && role !== 'operator' && role !== 'viewer') throw new UsageError('--role must be operator or viewer');
  if (opts.operator !== undefined && !NAME.test(opts.operator)) throw new UsageError('operator name must be 1-64 characters of A-Z a-z 0-9 . _ @ -');
  if (opts.label !== undefined && opts.label.length > 200) throw new UsageError('--label is at most 200 characters');
  const by = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async ({ kernel, store }) => {
    if (opts.agent !== undefined && !kernel.contractOf(opts.agent)) {
      throw new UsageError(`unknown agent \`${opts.agent}\`: no contract (known: ${[...kernel.workspace.contracts.keys()].join(', ')})`);
    }
    const { world } = kernel.deps;
    const minted = mintKey();
    const row = {
      id: newCredentialId(),
      kind: opts.agent !== undefined ? ('agent' as const) : ('operator' as const),
      principal: (opts.agent ?? opts.operator) as string,
      role: role as CredentialRow['role'],
      key_hash: minted.hash,
      key_prefix: minted.prefix,
      label: opts.label ?? null,
      created_at: world.now(),
      created_by: by,
    };
    await store.commit([
      { op: 'credential.add', row },
      {
        op: 'event',
        event: {
          dfid: world.newTraceId(),
          agent: row.kind === 'agent' ? row.principal : `operator:${row.principal}`,
          type: 'CredentialCreated',
          decision_id: row.id,
          data: { credential_id: row.id, kind: row.kind, role: row.role, by },
        },
      },
    ]);
    if (opts.json) {
      printJson({ id: row.id, key: minted.key, kind: row.kind, principal: row.principal, role: row.role, label: row.label });
    } else {
      process.stdout.write(`${minted.key}\n`);
      process.stderr.write(`created ${row.id} for ${row.kind} \`${row.principal}\` (role ${row.role}). The key is shown once; store it now.\n`);
    }
    return EXIT.ok;
  });
}

function listed(r: CredentialRow) {
  return {
    id: r.id,
    kind: r.kind,
    principal: r.principal,
    role: r.role,
    key_prefix: `${r.key_prefix}…`,
    label: r.label,
    created_at: new Date(r.created_at).toISOString(),
    created_by: r.created_by,
    revoked_at: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString(),
    revoked_by: r.revoked_by,
  };
}

export async function keysList(opts: { workspace?: string; json?: boolean }): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ store }) => {
    const rows = (await store.credentials.list()).map(listed);
    if (opts.json) {
      printJson(rows);
      return EXIT.ok;
    }
    if (!rows.length) process.stdout.write('no keys\n');
    for (const r of rows) {
      process.stdout.write(`${r.id}  ${r.kind.padEnd(8)} ${r.principal.padEnd(16)} ${r.role.padEnd(8)} ${r.key_prefix}  created ${r.created_at} by ${r.created_by}${r.revoked_at ? `  REVOKED ${r.revoked_at}` : ''}${r.label ? `  (${r.label})` : ''}\n`);
    }
    return EXIT.ok;
  });
}

/** Revokes a key at once: the next request that presents it gets 401. */
export async function keysRevoke(id: string, opts: { workspace?: string; as?: string }): Promise<number> {
  const by = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async ({ kernel, store }) => {
    const row = await store.credentials.get(id);
    if (!row) throw new UsageError(`no key \`${id}\``);
    if (row.revoked_at !== null) {
      process.stderr.write(`mandate: ${id} was already revoked\n`);
      return EXIT.failed;
    }
    const { world } = kernel.deps;
    const r = await store.commit([
      { op: 'credential.revoke', id, by, at: world.now() },
      { op: 'event', event: { dfid: world.newTraceId(), agent: row.kind === 'agent' ? row.principal : `operator:${row.principal}`, type: 'CredentialRevoked', decision_id: row.id, data: { credential_id: row.id, kind: row.kind, role: row.role, by } } },
    ]);
    if (!r.ok) throw new UsageError(`${id} was revoked concurrently`);
    process.stdout.write(`revoked ${id} (${row.kind} \`${row.principal}\`)\n`);
    return EXIT.ok;
  });
}
