// Issue 5: contracts grant upstream tools by name or glob, with limits on
// arguments as Cedar conditions (`when`). DIM and Cedar must agree on which
// grant governs a capability: the exact one, else the first matching glob.
import { describe, expect, it } from 'vitest';
import { capabilityMatches, grantFor } from '../../src/config/contract-schema.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import type { Problem } from '../../src/config/problems.js';
import { WorkspaceConfigSchema } from '../../src/config/workspace-schema.js';
import { toCedarRecord } from '../../src/policy/cedar-values.js';
import { compilePolicySet, contractPolicies } from '../../src/policy/compile.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { withConstraints } from '../../src/kernel/stewards.js';
import { contract, copyTemplate, replaceOnce } from './helpers.js';

const writer = () =>
  contract({
    agent: 'writer',
    grants: [
      { capability: 'fs.write_file', when: 'context.values.path like "/srv/allowed/*" && !(context.values.path like "*..*")' },
      { capability: 'fs.read_*', limits: { max: { head: 100 } } },
      { capability: 'fs.*', when: 'resource.side_effect == "read"' },
    ],
    escalation: { rules: [{ capability: 'fs.read_*', when: 'context.values has tail', reason: 'tails need a human' }] },
  });

function engine() {
  const problems: Problem[] = [];
  const set = compilePolicySet([writer()], [], problems);
  expect(problems).toEqual([]);
  return new PolicyEngine(set);
}

const req = (id: string, values: Record<string, unknown>, sideEffect = 'write') => ({
  agent: { id: 'writer', role: 'agent' },
  capability: { id, version: '0.0.0+pin.x', sideEffect, upstream: 'fs' },
  context: { values: toCedarRecord(values), facts: {}, usage: {}, now: 0 },
});

describe('capability globs', () => {
  it('`*` matches any characters, dots included; everything else is literal', () => {
    expect(capabilityMatches('fs.*', 'fs.read_file')).toBe(true);
    expect(capabilityMatches('fs.*', 'fs.a.b')).toBe(true);
    expect(capabilityMatches('fs.*', 'fsx.read')).toBe(false);
    expect(capabilityMatches('fs.read_*', 'fs.read_text_file')).toBe(true);
    expect(capabilityMatches('fs.read_*', 'fs.write_file')).toBe(false);
    expect(capabilityMatches('fs.read_file', 'fs.read_file')).toBe(true);
    expect(capabilityMatches('a.b+c', 'a.bbc')).toBe(false);
  });

  it('grantFor: the exact grant wins, else the first glob in contract order', () => {
    const c = writer();
    expect(grantFor(c, 'fs.write_file')?.capability).toBe('fs.write_file');
    expect(grantFor(c, 'fs.read_text_file')?.capability).toBe('fs.read_*');
    expect(grantFor(c, 'fs.list_directory')?.capability).toBe('fs.*');
    expect(grantFor(c, 'payments.transfer')).toBeUndefined();
  });

  it('the contract schema takes globs and tool names with upper case, never a glob in the first segment', () => {
    expect(() => contract({ agent: 'a', grants: [{ capability: 'gh.createIssue' }, { capability: 'gh.list*' }] })).not.toThrow();
    expect(() => contract({ agent: 'a', grants: [{ capability: '*.read' }] })).toThrow();
    expect(() => contract({ agent: 'a', grants: [{ capability: 'fs' }] })).toThrow();
  });

  it('a constraint on a glob-granted capability tightens a copy of the glob grant for that capability only', () => {
    const c = withConstraints(writer(), 'fs.read_text_file', [{ intervention_id: 'i', agent: 'writer', capability: 'fs.read_text_file', field: 'head', max: 10, expires_at: 1 }]);
    expect(grantFor(c, 'fs.read_text_file')?.limits.max).toEqual({ head: 10 });
    expect(grantFor(c, 'fs.read_media_file')?.limits.max).toEqual({ head: 100 });
  });
});

describe('contract -> Cedar for upstream grants', () => {
  it('a glob grant matches resource.id and excludes what an exact grant or an earlier glob governs', () => {
    const text = contractPolicies(writer()).find((p) => p.id === 'contract.writer.grant.fs.*')?.text ?? '';
    expect(text).toContain('resource.id like "fs.*"');
    expect(text).toContain('resource != Mandate::Capability::"fs.write_file"');
    expect(text).toContain('!(resource.id like "fs.read_*")');
    expect(text).toContain('(resource.side_effect == "read")');
  });

  it('the `when` of a grant limits the arguments: a write outside the prefix, or with .., gets no permit', () => {
    const e = engine();
    expect(e.evaluate(req('fs.write_file', { path: '/srv/allowed/a.md', content: 'x' }))).toEqual({ kind: 'permit', policies: ['contract.writer.grant.fs.write_file'] });
    expect(e.evaluate(req('fs.write_file', { path: '/srv/other/a.md', content: 'x' }))).toEqual({ kind: 'no_permit', policies: [] });
    expect(e.evaluate(req('fs.write_file', { path: '/srv/allowed/../other/a.md', content: 'x' }))).toEqual({ kind: 'no_permit', policies: [] });
  });

  it('a broader glob never widens a capability that has its own grant', () => {
    // fs.* would permit any read-only tool; fs.write_file (write) is governed by its exact grant only.
    expect(engine().evaluate(req('fs.write_file', { path: '/etc/passwd' }, 'read'))).toEqual({ kind: 'no_permit', policies: [] });
  });

  it("a glob grant's limits and an escalation rule over a glob apply to every match", () => {
    const e = engine();
    expect(e.evaluate(req('fs.read_text_file', { path: '/x', head: 5 }, 'read'))).toEqual({ kind: 'permit', policies: ['contract.writer.grant.fs.read_*'] });
    expect(e.evaluate(req('fs.read_text_file', { path: '/x', head: 500 }, 'read'))).toEqual({ kind: 'no_permit', policies: [] });
    expect(e.evaluate(req('fs.read_media_file', { path: '/x', tail: 5 }, 'read'))).toMatchObject({ kind: 'escalate', reasons: ['tails need a human'] });
    expect(e.evaluate(req('fs.list_directory', { path: '/x' }, 'read'))).toEqual({ kind: 'permit', policies: ['contract.writer.grant.fs.*'] });
    expect(e.evaluate(req('fs.move_file', { source: '/a', destination: '/b' }, 'destructive'))).toEqual({ kind: 'no_permit', policies: [] });
  });

  it('workspace policies can read resource.upstream and resource.id', () => {
    const problems: Problem[] = [];
    const set = compilePolicySet([writer()], [{ file: 'policies/gw.cedar', text: '@id("no-fs-moves")\nforbid (principal, action, resource) when { resource has upstream && resource.upstream == "fs" && resource.id like "*move*" };' }], problems);
    expect(problems).toEqual([]);
    const e = new PolicyEngine(set);
    expect(e.evaluate(req('fs.move_file', {}, 'read'))).toEqual({ kind: 'forbid', policies: ['no-fs-moves'] });
  });
});

describe('mandate.yaml upstreams and contract references (validate)', () => {
  const upstreams = (yaml: string) => WorkspaceConfigSchema.safeParse({ version: 1, upstreams: yaml });
  const parse = (u: Record<string, unknown>) => WorkspaceConfigSchema.safeParse({ version: 1, upstreams: { fs: u } });
  const messages = (r: ReturnType<typeof parse>) => (r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));

  it('a stdio upstream (command, args, env) or an HTTP one (url, headers); defaults filled in', () => {
    const r = parse({ command: 'npx', args: ['-y', 'pkg'], env: { LOG: 'debug', GITHUB_TOKEN: { from_env: 'GITHUB_TOKEN' } } });
    expect(r.success).toBe(true);
    expect(r.data?.upstreams['fs']).toMatchObject({ max_concurrency: 4, max_queue: 16, start_timeout_ms: 10_000, restart: { initial_ms: 500, max_ms: 30_000 } });
    expect(parse({ url: 'https://example.com/mcp', headers: { Authorization: { from_env: 'TOKEN', prefix: 'Bearer ' } } }).success).toBe(true);
    expect(upstreams('x').success).toBe(false);
  });

  it('refuses both or neither transport, and options of the other transport', () => {
    expect(messages(parse({}))).toEqual(['upstreams.fs: give either command (stdio) or url (Streamable HTTP), not both']);
    expect(messages(parse({ command: 'x', url: 'http://127.0.0.1:1/mcp' })).join('\n')).toMatch(/either command .* or url/);
    expect(messages(parse({ url: 'http://127.0.0.1:1/mcp', env: { A: 'b' } })).join('\n')).toMatch(/args, env and cwd are for a stdio upstream/);
  });

  it('refuses a literal secret, by name or by shape, and says how to pass it', () => {
    expect(messages(parse({ command: 'x', env: { GITHUB_TOKEN: 'ghp_abcdefghijklmnop' } }))).toEqual([
      'upstreams.fs.env.GITHUB_TOKEN: `GITHUB_TOKEN` looks like a secret: never write it in mandate.yaml; use { from_env: GITHUB_TOKEN }',
    ]);
    expect(messages(parse({ command: 'x', env: { SOMETHING: 'sk-live-123456789' } }))[0]).toMatch(/looks like a secret/);
    expect(messages(parse({ url: 'https://x.example/mcp', headers: { Authorization: 'Bearer abcdefghijkl' } }))[0]).toMatch(/`Authorization` looks like a secret.*from_env: AUTHORIZATION/);
    expect(messages(parse({ url: 'https://x.example/mcp', headers: { 'X-Api-Key': 'abc' } }))[0]).toMatch(/looks like a secret/);
  });

  it('validate: an upstream grant needs the upstream configured; a glob must match something; an upstream name must not shadow a module', async () => {
    const ws = copyTemplate({
      'mandate.yaml': (t) => `${t}\nupstreams:\n  fs: { command: node, args: [x.mjs] }\n  payments: { command: node }\n`,
      'contracts/writer.yaml': () =>
        'agent: writer\nversion: 1\nowner: o@example.com\nmission: m\nrole: agent\ngrants:\n  - capability: fs.*\n  - capability: fs.write_file\n    when: context.values.path like "/a/*"\n  - capability: gh.create_issue\n  - capability: files.nope_*\nescalation:\n  rules:\n    - { capability: fs.move_file, when: "true", reason: r }\n',
    });
    try {
      const { problems } = await loadWorkspace(ws.dir);
      expect(problems.map((p) => `${p.file} ${p.path}: ${p.message}`)).toEqual([
        'mandate.yaml upstreams.payments: the upstream name `payments` is also the namespace of `payments.get_balance`',
        'contracts/writer.yaml grants.2.capability: unknown capability `gh.create_issue`',
        'contracts/writer.yaml grants.3.capability: `files.nope_*` matches no capability',
      ]);
    } finally {
      ws.cleanup();
    }
  });

  it("validate: a grant's `when` must be valid Cedar, reported against the contract", async () => {
    const ws = copyTemplate({
      'mandate.yaml': (t) => `${t}\nupstreams:\n  fs: { command: node }\n`,
      'contracts/scribe.yaml': replaceOnce('  - capability: memory.write', '  - capability: memory.write\n  - capability: fs.read_file\n    when: context.values.path like'),
    });
    try {
      const { problems } = await loadWorkspace(ws.dir);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ file: 'contract:scribe', path: 'contract.scribe.grant.fs.read_file' });
    } finally {
      ws.cleanup();
    }
  });
});
