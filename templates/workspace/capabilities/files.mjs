// In-process capabilities that write and delete files, confined to the
// workspace's sandbox/ folder and never through a symbolic link. The
// confinement is an invariant the kernel checks before the handler runs, and
// the handler checks it again.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

const SANDBOX = 'sandbox';

// The absolute target inside the sandbox, or null when the path escapes it.
function target(workspaceDir, path) {
  if (isAbsolute(path) || path.includes('\0')) return null;
  const root = resolve(workspaceDir, SANDBOX);
  const full = resolve(root, path);
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return null;
  return full;
}

// True when no component between the sandbox and the target (the target
// itself included) is a symbolic link: a link, even a dangling one, could lead
// outside, so the writer refuses to go through any. Components that do not
// exist yet are fine; the handler creates them as real folders.
async function confined(workspaceDir, full) {
  const root = resolve(workspaceDir, SANDBOX);
  let here = root;
  for (const part of relative(root, full).split(sep)) {
    here = join(here, part);
    let info;
    try {
      info = await lstat(here);
    } catch (err) {
      if (err.code === 'ENOENT') return true;
      return false;
    }
    if (info.isSymbolicLink()) return false;
  }
  return true;
}

async function fileFacts(workspaceDir, path) {
  const full = target(workspaceDir, path);
  if (!full || !(await confined(workspaceDir, full))) return { inside_sandbox: false, exists: false, version: 'none' };
  try {
    const bytes = await readFile(full);
    return { inside_sandbox: true, exists: true, version: createHash('sha256').update(bytes).digest('hex') };
  } catch {
    return { inside_sandbox: true, exists: false, version: 'absent' };
  }
}

export default function define({ z }) {
  const path = z.string().min(1).max(200).describe('Path relative to the sandbox folder, e.g. notes/today.md.');
  // The facts' shape: policies over context.facts are type-checked against it (mandate validate).
  const fileFactsSchema = z.object({ inside_sandbox: z.boolean(), exists: z.boolean(), version: z.string() });
  const insideSandbox = { id: 'inside_sandbox', message: 'the path is outside the sandbox folder', check: ({ facts }) => facts.inside_sandbox === true };

  const write = {
    id: 'files.write',
    version: '1.0.0',
    title: 'Write a file in the sandbox',
    description: 'Create or replace a UTF-8 text file under the sandbox folder. To replace an existing file, set overwrite and pass its current version (sha256) as observed_version.',
    sideEffect: 'write',
    input: z.object({ path, content: z.string().max(65536), overwrite: z.boolean().default(false) }),
    output: z.object({ path: z.string(), bytes: z.number().int(), sha256: z.string() }),
    limits: { deadlineMs: 2000, maxOutputBytes: 1024 },
    facts: (params, ctx) => fileFacts(ctx.workspaceDir, params.path),
    factsSchema: fileFactsSchema,
    // `bytes` is computed by the kernel from the content; the contract caps it.
    derive: (params) => ({ bytes: Buffer.byteLength(params.content, 'utf8') }),
    derivedSchema: z.object({ bytes: z.number().int() }),
    invariants: [
      insideSandbox,
      { id: 'no_silent_overwrite', message: 'the file exists; set overwrite to replace it', check: ({ params, facts }) => !facts.exists || params.overwrite === true },
    ],
    async handler(params, ctx) {
      const full = target(ctx.workspaceDir, params.path);
      if (!full || !(await confined(ctx.workspaceDir, full))) throw new Error('outside sandbox');
      await mkdir(dirname(full), { recursive: true });
      // O_NOFOLLOW: a link put in place after the check above is refused too.
      const file = await open(full, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
      try {
        ctx.signal.throwIfAborted();
        await file.writeFile(params.content, 'utf8');
      } finally {
        await file.close();
      }
      return { path: params.path, bytes: Buffer.byteLength(params.content, 'utf8'), sha256: createHash('sha256').update(params.content).digest('hex') };
    },
  };

  const remove = {
    id: 'files.delete',
    version: '1.0.0',
    title: 'Delete a file in the sandbox',
    description: 'Delete one file under the sandbox folder. Destructive: every call waits for a human approval.',
    sideEffect: 'destructive',
    input: z.object({ path }),
    output: z.object({ path: z.string(), deleted: z.boolean() }),
    limits: { deadlineMs: 2000, maxOutputBytes: 512 },
    facts: (params, ctx) => fileFacts(ctx.workspaceDir, params.path),
    factsSchema: fileFactsSchema,
    invariants: [insideSandbox, { id: 'file_exists', message: 'no such file', check: ({ facts }) => facts.exists === true }],
    async handler(params, ctx) {
      const full = target(ctx.workspaceDir, params.path);
      if (!full || !(await confined(ctx.workspaceDir, full))) throw new Error('outside sandbox');
      await rm(full);
      return { path: params.path, deleted: true };
    },
  };

  return [write, remove];
}
