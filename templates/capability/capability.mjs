// __ID__: an in-process capability, scaffolded by `mandate capability new __ID__`.
// Edit it freely, then check it:   mandate capability test __ID__
// The API (every field, what the kernel guarantees the handler) is docs/capabilities.md.
//
// This starting point appends short entries to a JSON file it owns, __DATA_FILE__.
// Grant it in a contract (grants: [{ capability: __ID__ }]) for an agent to use it.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

// The state this capability owns, relative to the workspace.
const FILE = '__DATA_FILE__';

async function load(workspaceDir, signal) {
  try {
    return JSON.parse(await readFile(join(workspaceDir, FILE), { encoding: 'utf8', signal }));
  } catch (err) {
    if (err.code === 'ENOENT') return { version: 1, entries: [] };
    throw err;
  }
}

// `z` is Mandate's own zod: the workspace needs no node_modules.
export default function define({ z }) {
  return {
    id: '__ID__',
    version: '0.1.0',
    title: '__TITLE__',
    // What a model reads to decide whether and how to call it: say what it does, and the units.
    description: 'Append a short text entry to __DATA_FILE__ and return its id.',
    sideEffect: 'write', // read | write | destructive: sets the tool annotations; policies see it
    input: z.object({
      text: z.string().min(1).max(200).describe('The entry, 1 to 200 characters.'),
    }),
    output: z.object({ entry_id: z.string(), count: z.number().int(), version: z.string() }),
    limits: { deadlineMs: 2000, maxOutputBytes: 1024 },

    // Read-only and deterministic: the authoritative state the decision depends on.
    // It runs twice per call (decision, then just before the handler); never write here.
    async facts(params, ctx) {
      const state = await load(ctx.workspaceDir, ctx.signal);
      return { version: String(state.version), count: state.entries.length };
    },
    // The facts' shape: policies over context.facts are type-checked against it (mandate validate).
    factsSchema: z.object({ version: z.string(), count: z.number().int() }),
    invariants: [{ id: 'room_left', message: 'the list is full (1000 entries)', check: ({ facts }) => facts.count < 1000 }],

    // The side effect. Honour ctx.signal: pass it to I/O and stop before writing once it fired.
    async handler(params, ctx) {
      const state = await load(ctx.workspaceDir, ctx.signal);
      ctx.signal.throwIfAborted();
      const entry = { id: `e-${state.version}`, text: params.text, agent: ctx.agent, dfid: ctx.dfid, at: new Date(ctx.now).toISOString() };
      state.entries.push(entry);
      state.version += 1;
      const path = join(ctx.workspaceDir, FILE);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { signal: ctx.signal });
      ctx.signal.throwIfAborted();
      await rename(`${path}.tmp`, path); // atomic: the file is never half-written
      return { entry_id: entry.id, count: state.entries.length, version: String(state.version) };
    },

    // Checked by `mandate capability test __ID__`, each through a real kernel on a fresh copy
    // of the workspace. Without `contract`, an example runs as a test agent granted only this
    // capability; name an agent (`contract: alice`) to run it under that agent's contract.
    examples: [
      { title: 'a short entry is accepted', params: { text: 'hello' }, expect: 'accepted' },
      { title: 'an empty entry is refused', params: { text: '' }, expect: 'rejected', reasons: ['SCHEMA_INVALID'] },
    ],
  };
}
