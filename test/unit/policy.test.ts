import * as cedar from '../../src/policy/cedar.js';
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it, vi } from 'vitest';
import type { Problem } from '../../src/config/problems.js';
import { toCedarRecord, toCedarValue } from '../../src/policy/cedar-values.js';
import { compilePolicySet, contractPolicies, type PolicyFile } from '../../src/policy/compile.js';
import { PolicyEngine, type PolicyRequest } from '../../src/policy/engine.js';
import { aliceContract, contract } from './helpers.js';

const BASE: PolicyFile = {
  file: 'policies/base.cedar',
  text: `
@id("forbid-blocked-payees")
forbid (principal, action == Mandate::Action::"invoke", resource == Mandate::Capability::"payments.transfer")
when { context.facts has payee_blocked && context.facts.payee_blocked };

@id("escalate-destructive")
@escalate("destructive actions need a human approval")
permit (principal, action == Mandate::Action::"invoke", resource)
when { resource.side_effect == "destructive" };
`,
};

function compile(files: PolicyFile[] = [BASE], contracts = [aliceContract()]) {
  const problems: Problem[] = [];
  const set = compilePolicySet(contracts, files, problems);
  return { set, problems };
}

function engine(files: PolicyFile[] = [BASE], contracts = [aliceContract()]): PolicyEngine {
  const { set, problems } = compile(files, contracts);
  expect(problems).toEqual([]);
  return new PolicyEngine(set);
}

/** The engine's reading of Cedar's answer to the whole set (an @escalate permit alone allows nothing). */
function verdictOf(set: ReturnType<typeof compile>['set'], response: { decision: string; diagnostics: { reason: string[] } }) {
  const reasons = [...response.diagnostics.reason].sort();
  const escalating = reasons.filter((id) => set.policies[id]?.escalate);
  if (response.decision === 'deny') return reasons.length ? { kind: 'forbid', policies: reasons } : { kind: 'no_permit', policies: [] };
  if (escalating.length === reasons.length) return { kind: 'no_permit', policies: [] };
  return { kind: escalating.length ? 'escalate' : 'permit', policies: reasons };
}

function req(values: Record<string, unknown>, facts: Record<string, unknown> = { payee_blocked: false }, over: Partial<PolicyRequest> = {}): PolicyRequest {
  return {
    agent: { id: 'alice', role: 'agent' },
    capability: { id: 'payments.transfer', version: '1.0.0', sideEffect: 'write' },
    context: { values: toCedarRecord(values), facts: toCedarRecord(facts), usage: {}, now: 1_893_456_000 },
    ...over,
  };
}

const EUR = (amount_minor: number) => ({ amount_minor, currency: 'EUR', payee: 'acme-supplies' });

// Every wasm evaluation is counted (and passed through), so a test can tell an answer Cedar gave from one the engine kept.
const wasmCalls = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../src/policy/cedar.js', async (original) => {
  const real = await original<typeof import('../../src/policy/cedar.js')>();
  return {
    ...real,
    statefulIsAuthorized: (...args: Parameters<typeof real.statefulIsAuthorized>) => {
      wasmCalls.n++;
      return real.statefulIsAuthorized(...args);
    },
  };
});

describe('policy compile and engine (cedar-wasm)', () => {
  it('a contract grant permits, naming the grant policy', () => {
    expect(engine().evaluate(req(EUR(500)))).toEqual({ kind: 'permit', policies: ['contract.alice.grant.payments.transfer'] });
  });

  it('contract limits are compiled into the permit: a value above max or outside allowed gets no permit', () => {
    const text = contractPolicies(aliceContract()).find((p) => p.id === 'contract.alice.grant.payments.transfer')?.text ?? '';
    expect(text).toContain('context.values["amount_minor"] <= 50000');
    expect(text).toContain('["EUR"].contains(context.values["currency"])');
    const e = engine();
    // Above the escalation threshold too: the @escalate permit alone must not let it through.
    expect(e.evaluate(req(EUR(50_001)))).toEqual({ kind: 'no_permit', policies: [] });
    expect(e.evaluate(req(EUR(0)))).toEqual({ kind: 'no_permit', policies: [] }); // below min 1
    expect(e.evaluate(req({ amount_minor: 500, currency: 'USD' }))).toEqual({ kind: 'no_permit', policies: [] });
    expect(e.evaluate(req(EUR(50_000))).kind).toBe('escalate'); // exactly the cap: permitted (then escalated)
  });

  it('forbid wins over permit', () => {
    const v = engine().evaluate(req(EUR(500), { payee_blocked: true }));
    expect(v).toEqual({ kind: 'forbid', policies: ['forbid-blocked-payees'] });
  });

  it('an @escalate permit yields kind escalate with its reason', () => {
    const e = engine();
    expect(e.evaluate(req(EUR(20_000)))).toEqual({
      kind: 'escalate',
      policies: ['contract.alice.escalate.0', 'contract.alice.grant.payments.transfer'],
      reasons: ['transfers above 100.00 need a human approval'],
    });
    const scribe = contract({ agent: 'scribe', grants: [{ capability: 'files.delete' }] });
    const e2 = engine([BASE], [scribe]);
    const v = e2.evaluate({ ...req({ path: 'a.md' }), agent: { id: 'scribe', role: 'agent' }, capability: { id: 'files.delete', version: '1.0.0', sideEffect: 'destructive' } });
    expect(v).toEqual({ kind: 'escalate', policies: ['contract.scribe.grant.files.delete', 'escalate-destructive'], reasons: ['destructive actions need a human approval'] });
  });

  it('no matching permit is no_permit (unknown agent, ungranted capability)', () => {
    const e = engine();
    expect(e.evaluate({ ...req(EUR(1)), agent: { id: 'mallory', role: 'agent' } })).toEqual({ kind: 'no_permit', policies: [] });
    expect(e.evaluate({ ...req(EUR(1)), capability: { id: 'files.write', version: '1.0.0', sideEffect: 'write' } })).toEqual({ kind: 'no_permit', policies: [] });
  });

  it('FAIL CLOSED: a forbid whose condition errors at evaluation yields kind error, never permit', () => {
    const broken: PolicyFile = {
      file: 'policies/broken.cedar',
      text: `@id("forbid-reads-missing-fact")
forbid (principal, action, resource) when { context.facts.missing_attr == true };`,
    };
    const { set, problems } = compile([BASE, broken]);
    expect(problems).toEqual([]); // it parses; it only fails at evaluation
    const request = req(EUR(500));
    // What Cedar itself does: skips the erroring forbid and allows.
    const raw = cedar.isAuthorized({
      principal: { type: 'Mandate::Agent', id: 'alice' },
      action: { type: 'Mandate::Action', id: 'invoke' },
      resource: { type: 'Mandate::Capability', id: 'payments.transfer' },
      context: request.context,
      policies: { staticPolicies: Object.fromEntries(Object.entries(set.policies).map(([id, p]) => [id, p.text])) },
      entities: [
        { uid: { type: 'Mandate::Agent', id: 'alice' }, attrs: { role: 'agent' }, parents: [] },
        { uid: { type: 'Mandate::Capability', id: 'payments.transfer' }, attrs: { version: '1.0.0', side_effect: 'write' }, parents: [] },
      ],
    });
    expect(raw.type === 'success' && raw.response.decision).toBe('allow');
    // What the engine does: an error verdict naming the policy.
    const v = new PolicyEngine(set).evaluate(request);
    expect(v.kind).toBe('error');
    expect(v.policies).toEqual(['forbid-reads-missing-fact']);
    expect(v.kind === 'error' && v.failures[0]).toMatchObject({ policy: 'forbid-reads-missing-fact', kind: 'attribute_missing' });
  });

  it('reports a duplicate @id and a policy without @id as problems', () => {
    const files: PolicyFile[] = [
      { file: 'policies/a.cedar', text: '@id("same")\npermit (principal, action, resource) when { false };' },
      {
        file: 'policies/b.cedar',
        text: `@id("same")
forbid (principal, action, resource) when { false };
@id("contract.alice.grant.payments.transfer")
permit (principal, action, resource);
permit (principal, action, resource);`,
      },
    ];
    const { set, problems } = compile(files);
    expect(problems).toEqual([
      { file: 'policies/b.cedar', path: 'policy #3', message: 'policy has no @id annotation', hint: expect.stringContaining('@id(') },
      { file: 'policies/b.cedar', path: '@id(same)', message: 'duplicate policy id, also in policies/a.cedar', hint: 'give every policy a unique @id' },
      {
        file: 'policies/b.cedar',
        path: '@id(contract.alice.grant.payments.transfer)',
        message: 'duplicate policy id, also in contract:alice',
        hint: 'give every policy a unique @id',
      },
    ]);
    // The first definition is kept; the impostor never reaches the set.
    expect(set.policies['contract.alice.grant.payments.transfer']?.source).toBe('contract:alice');
  });

  it('reports Cedar syntax errors and broken escalation conditions as problems', () => {
    const bad = compile([{ file: 'policies/bad.cedar', text: '@id("x") permit (principal, action, resource) when { ;' }]);
    expect(bad.problems.length).toBeGreaterThan(0);
    expect(bad.problems[0]?.file).toBe('policies/bad.cedar');
    const c = contract({ agent: 'carol', grants: [{ capability: 'payments.transfer' }], escalation: { rules: [{ capability: 'payments.transfer', when: 'context.values.amount_minor >', reason: 'r' }] } });
    const broken = compile([], [c]);
    expect(broken.problems.map((p) => [p.file, p.path])).toEqual([['contract:carol', 'contract.carol.escalate.0']]);
  });

  it('the policy-set hash is stable for the same input and changes when a policy changes', () => {
    const a = compile([BASE]).set.hash;
    const extra: PolicyFile = { file: 'policies/extra.cedar', text: '@id("extra")\nforbid (principal, action, resource) when { context.now < 0 };' };
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(compile([BASE]).set.hash).toBe(a);
    expect(compile([extra, BASE]).set.hash).toBe(compile([BASE, extra]).set.hash); // file order does not matter
    expect(compile([{ ...BASE, text: BASE.text.replace('context.facts.payee_blocked }', 'context.facts.payee_blocked == true }') }]).set.hash).not.toBe(a);
    const looser = aliceContract();
    (looser.grants[0]?.limits.max as Record<string, number>)['amount_minor'] = 50_001;
    expect(compile([BASE], [looser]).set.hash).not.toBe(a);
  });

  it('entity-reference smuggling: toCedarValue drops keys starting with __', () => {
    const smuggled = { x: { __entity: { type: 'Mandate::Agent', id: 'root' } }, y: { __extn: { fn: 'ip', arg: '10.0.0.1' }, keep: 'yes' } };
    expect(toCedarRecord(smuggled)).toEqual({ x: {}, y: { keep: 'yes' } });
    expect(toCedarValue({ __entity: { type: 'Mandate::Agent', id: 'root' } })).toEqual({});
    expect(toCedarRecord({ __entity: { type: 'Mandate::Agent', id: 'root' }, ok: 1 })).toEqual({ ok: 1 });
    // A fraction becomes Cedar's decimal; a value Cedar cannot hold exactly is reported, never rounded.
    const issues: { path: string; message: string }[] = [];
    expect(toCedarRecord({ f: 1.5, big: 2 ** 60, n: null, s: 's', list: [1, 2] }, undefined, 'values', issues)).toEqual({ f: { __extn: { fn: 'decimal', arg: '1.5' } }, s: 's', list: [1, 2] });
    expect(issues.map((i) => i.path)).toEqual(['values.big']);

    // And it matters: a policy comparing a context value with an entity.
    const rootOnly: PolicyFile = {
      file: 'policies/root.cedar',
      text: '@id("root-only")\npermit (principal, action, resource) when { context.values has x && context.values.x == Mandate::Agent::"root" };',
    };
    const e = engine([rootOnly], []);
    const params = { x: { __entity: { type: 'Mandate::Agent', id: 'root' } } };
    const unsafe = e.evaluate({ ...req({}), context: { values: params as unknown as Record<string, CedarValueJson>, facts: {}, usage: {}, now: 0 } });
    expect(unsafe.kind).toBe('permit'); // what a raw pass-through would allow
    expect(e.evaluate(req(params))).toEqual({ kind: 'no_permit', policies: [] });
  });
});

describe('answers kept by their exact request (ADR-037)', () => {
  it('an identical request gets the same verdict without a second wasm call; any value a policy reads, another agent or a reloaded set is asked afresh', () => {
    const e = engine();
    const asked = () => wasmCalls.n;
    const start = asked();
    const first = e.evaluate(req(EUR(500)));
    expect(first).toEqual({ kind: 'permit', policies: ['contract.alice.grant.payments.transfer'] });
    expect(asked()).toBe(start + 1);
    // What a caller does with its verdict does not reach the next caller's.
    (first.policies as string[]).push('tampered');
    const again = e.evaluate(req(EUR(500)));
    expect(again).toEqual({ kind: 'permit', policies: ['contract.alice.grant.payments.transfer'] });
    (again.policies as string[]).push('tampered');
    expect(e.evaluate(req(EUR(500)))).toEqual({ kind: 'permit', policies: ['contract.alice.grant.payments.transfer'] });
    expect(asked()).toBe(start + 1);
    // A value the grant's limits read, a fact a forbid reads: new requests, Cedar's own answers.
    expect(e.evaluate(req(EUR(50_001)))).toEqual({ kind: 'no_permit', policies: [] });
    expect(e.evaluate(req(EUR(500), { payee_blocked: true }))).toEqual({ kind: 'forbid', policies: ['forbid-blocked-payees'] });
    expect(e.evaluate(req(EUR(20_000))).kind).toBe('escalate');
    expect(asked()).toBe(start + 4);
    expect(e.evaluate(req(EUR(500), { payee_blocked: true }))).toEqual({ kind: 'forbid', policies: ['forbid-blocked-payees'] });
    expect(e.evaluate(req(EUR(20_000))).kind).toBe('escalate');
    expect(asked()).toBe(start + 4);
    // Another principal, another resource: asked.
    expect(e.evaluate(req(EUR(500), undefined, { agent: { id: 'mallory', role: 'agent' } }))).toEqual({ kind: 'no_permit', policies: [] });
    expect(e.evaluate(req(EUR(500), undefined, { capability: { id: 'payments.transfer', version: '1.0.0', sideEffect: 'destructive' } })).kind).toBe('escalate');
    expect(asked()).toBe(start + 6);
    // A reload builds a new engine: nothing the old one kept is used.
    expect(engine().evaluate(req(EUR(500)))).toEqual({ kind: 'permit', policies: ['contract.alice.grant.payments.transfer'] });
    expect(asked()).toBe(start + 7);
  });
});

describe('per-agent policy subsets (issue 8)', () => {
  it('each agent is decided against the policy files plus its own contract, exactly as against the whole set', () => {
    const contracts = Array.from({ length: 30 }, (_, i) =>
      contract({
        agent: `agent-${i}`,
        grants: [{ capability: 'payments.transfer', limits: { max: { amount_minor: 1000 * (i + 1) } } }],
        escalation: { rules: [{ capability: 'payments.transfer', when: `context.values.amount_minor > ${500 * (i + 1)}`, reason: 'large' }] },
      }),
    );
    const { set, problems } = compile([BASE], contracts);
    expect(problems).toEqual([]);
    const subsets = new PolicyEngine(set);
    const whole = Object.fromEntries(Object.entries(set.policies).map(([id, p]) => [id, p.text]));
    for (let i = 0; i < 30; i += 7) {
      for (const amount of [100, 600 * (i + 1), 1500 * (i + 1)]) {
        for (const blocked of [false, true]) {
          const r = req({ amount_minor: amount }, { payee_blocked: blocked }, { agent: { id: `agent-${i}`, role: 'agent' } });
          const got = subsets.evaluate(r);
          const ref = cedar.isAuthorized({
            principal: { type: 'Mandate::Agent', id: `agent-${i}` },
            action: { type: 'Mandate::Action', id: 'invoke' },
            resource: { type: 'Mandate::Capability', id: 'payments.transfer' },
            context: r.context,
            policies: { staticPolicies: whole },
            entities: [
              { uid: { type: 'Mandate::Agent', id: `agent-${i}` }, attrs: { role: 'agent' }, parents: [] },
              { uid: { type: 'Mandate::Capability', id: 'payments.transfer' }, attrs: { id: 'payments.transfer', version: '1.0.0', side_effect: 'write' }, parents: [] },
            ],
          });
          expect(ref.type).toBe('success');
          if (ref.type !== 'success') continue;
          expect({ kind: got.kind, policies: got.policies }).toEqual(verdictOf(set, ref.response));
        }
      }
    }
  });

  it('only what a policy names reaches Cedar, and the answers are those of the full request', () => {
    const NAMING: PolicyFile = {
      file: 'policies/naming.cedar',
      text: `
@id("forbid-reviewers-large")
forbid (principal, action, resource) when { principal.role == "reviewer" && context.values.amount_minor > 100 };
@id("forbid-old-versions")
forbid (principal, action, resource) when { resource has version && resource.version == "0.9.0" };
@id("forbid-busy")
forbid (principal, action, resource) when { context.usage has calls_1h && context.usage.calls_1h > 10 };
@id("forbid-upstream")
forbid (principal, action, resource) when { resource has upstream && resource["upstream"] == "shady" };
`,
    };
    const { set, problems } = compile([BASE, NAMING]);
    expect(problems).toEqual([]);
    const trimmed = new PolicyEngine(set);
    const whole = Object.fromEntries(Object.entries(set.policies).map(([id, p]) => [id, p.text]));
    for (const role of ['agent', 'reviewer']) {
      for (const version of ['1.0.0', '0.9.0']) {
        for (const upstream of [undefined, 'shady', 'fine']) {
          for (const calls of [1, 11]) {
            const r = req({ amount_minor: 500 }, { payee_blocked: false }, { agent: { id: 'alice', role }, capability: { id: 'payments.transfer', version, sideEffect: 'write', upstream } });
            r.context['usage'] = { calls_1h: calls };
            const got = trimmed.evaluate(r);
            const ref = cedar.isAuthorized({
              principal: { type: 'Mandate::Agent', id: 'alice' },
              action: { type: 'Mandate::Action', id: 'invoke' },
              resource: { type: 'Mandate::Capability', id: 'payments.transfer' },
              context: r.context,
              policies: { staticPolicies: whole },
              entities: [
                { uid: { type: 'Mandate::Agent', id: 'alice' }, attrs: { role }, parents: [] },
                { uid: { type: 'Mandate::Capability', id: 'payments.transfer' }, attrs: { id: 'payments.transfer', version, side_effect: 'write', ...(upstream ? { upstream } : {}) }, parents: [] },
              ],
            });
            expect(ref.type).toBe('success');
            if (ref.type !== 'success') continue;
            const forbids = [...ref.response.diagnostics.reason].filter((id) => id.startsWith('forbid')).sort();
            expect(got.kind === 'forbid' ? got.policies : []).toEqual(forbids);
            expect(got.kind === 'forbid').toBe(ref.response.decision === 'deny');
          }
        }
      }
    }
  });

  it('what only policies scoped to another capability or action read is left out, and every answer is that of the full request', () => {
    const SCOPED: PolicyFile = {
      file: 'policies/scoped.cedar',
      text: `
@id("forbid-large-notes")
forbid (principal, action == Mandate::Action::"invoke", resource == Mandate::Capability::"notes.write")
when { context.values.size > 100 };
@id("forbid-night-reads")
forbid (principal, action == Mandate::Action::"read_resource", resource)
when { context.now > 1893456000 };
@id("forbid-any-blocked")
forbid (principal, action, resource) when { context has facts && context.facts has blocked && context.facts.blocked };
`,
    };
    const alice = contract({ agent: 'alice', grants: [{ capability: 'payments.transfer' }, { capability: 'notes.write' }, { capability: 'notes.*' }] });
    const { set, problems } = compile([BASE, SCOPED], [alice]);
    expect(problems).toEqual([]);
    const trimmed = new PolicyEngine(set);
    const whole = Object.fromEntries(Object.entries(set.policies).map(([id, p]) => [id, p.text]));
    for (const capability of ['payments.transfer', 'notes.write', 'notes.read', 'files.write']) {
      for (const size of [10, 500]) {
        for (const blocked of [false, true]) {
          for (const sideEffect of ['write', 'destructive']) {
            const r = req({ size }, { blocked, payee_blocked: false }, { capability: { id: capability, version: '1.0.0', sideEffect } });
            const got = trimmed.evaluate(r);
            const ref = cedar.isAuthorized({
              principal: { type: 'Mandate::Agent', id: 'alice' },
              action: { type: 'Mandate::Action', id: 'invoke' },
              resource: { type: 'Mandate::Capability', id: capability },
              context: r.context,
              policies: { staticPolicies: whole },
              entities: [
                { uid: { type: 'Mandate::Agent', id: 'alice' }, attrs: { role: 'agent' }, parents: [] },
                { uid: { type: 'Mandate::Capability', id: capability }, attrs: { id: capability, version: '1.0.0', side_effect: sideEffect }, parents: [] },
              ],
            });
            if (ref.type !== 'success') throw new Error('reference evaluation failed');
            const label = `${capability} size=${size} blocked=${blocked} ${sideEffect}`;
            expect(ref.response.diagnostics.errors, label).toEqual([]);
            expect({ kind: got.kind, policies: got.policies }, label).toEqual(verdictOf(set, ref.response));
          }
        }
      }
    }
  });
});

