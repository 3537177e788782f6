// Tests for __ID__, run by `mandate capability test __ID__` after its conformance checks.
// Each test runs on its own temporary copy of the workspace, never on the workspace itself,
// and gets:
//   cap       the definition define({ z }) returned (with Mandate's zod)
//   ctx(o)    a handler context: signal, dfid, agent, workspaceDir (the copy), now, progress (a no-op); `o` overrides
//   assert    node:assert/strict
// Files named *.test.mjs are never loaded as capabilities.
export const tests = {
  async 'the handler appends an entry and bumps the version'({ cap, ctx, assert }) {
    const params = cap.input.parse({ text: 'first' });
    const facts = await cap.facts(params, ctx());
    const out = cap.output.parse(await cap.handler(params, { ...ctx(), facts }));
    assert.equal(out.count, facts.count + 1);
    assert.equal(out.version, String(Number(facts.version) + 1));
  },

  async 'the facts see the new entry'({ cap, ctx, assert }) {
    const params = cap.input.parse({ text: 'second' });
    const before = await cap.facts(params, ctx());
    await cap.handler(params, { ...ctx(), facts: before });
    const after = await cap.facts(params, ctx());
    assert.equal(after.count, before.count + 1);
  },

  async 'the invariant refuses a full list'({ cap, assert }) {
    const full = cap.invariants.find((i) => i.id === 'room_left');
    assert.equal(full.check({ params: {}, facts: { count: 1000 }, values: {} }), false);
  },
};
