// In-process capabilities over the payments book kept in data/books.json.
// A capability module default-exports define({ z }) and returns one or more
// definitions; Mandate passes in its own zod so schemas need no install here.
// The kernel validates params, resolves facts, checks limits, invariants and
// policies, and only then calls the handler, under a deadline.
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const BOOK = 'data/books.json';

async function readBook(workspaceDir) {
  return JSON.parse(await readFile(join(workspaceDir, BOOK), 'utf8'));
}

// Write to a temporary file of this call's own and rename it, so the book is
// never half-written and two writers never share (and clobber) one temp file.
async function writeBook(workspaceDir, book) {
  const path = join(workspaceDir, BOOK);
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(book, null, 2)}\n`, { flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export default function define({ z }) {
  const account = z.string().regex(/^[a-z0-9-]{1,40}$/).describe('Account id, e.g. operating.');

  const getBalance = {
    id: 'payments.get_balance',
    version: '1.0.0',
    title: 'Get an account balance',
    description: 'Read the balance of an account in the payments book, with the book version to pass as observed_version to a transfer.',
    sideEffect: 'read',
    input: z.object({ account }),
    output: z.object({ account: z.string(), currency: z.string(), balance_minor: z.number().int(), version: z.string() }),
    limits: { deadlineMs: 2000, maxOutputBytes: 1024 },
    invariants: [],
    async handler(params, ctx) {
      const book = await readBook(ctx.workspaceDir);
      ctx.signal.throwIfAborted();
      const acct = book.accounts[params.account];
      if (!acct) throw new Error('unknown account');
      return { account: params.account, currency: acct.currency, balance_minor: acct.balance_minor, version: String(book.version) };
    },
    // Checked by `mandate capability test payments.get_balance` on a copy of the workspace.
    examples: [{ title: 'the operating account', params: { account: 'operating' }, contract: 'alice', expect: 'accepted' }],
  };

  const transfer = {
    id: 'payments.transfer',
    version: '1.0.0',
    title: 'Transfer money to a payee',
    description: 'Pay a known payee from an account. Amounts are integers in minor units (cents): 15.50 EUR is 1550. Large transfers wait for a human approval.',
    sideEffect: 'write',
    input: z.object({
      from_account: account,
      payee: z.string().regex(/^[a-z0-9-]{1,40}$/).describe('Payee id, e.g. acme-supplies.'),
      amount_minor: z.number().int().positive().describe('Amount in minor units (cents).'),
      currency: z.enum(['EUR', 'USD']),
      memo: z.string().max(140).optional(),
    }),
    output: z.object({ transfer_id: z.string(), balance_minor: z.number().int(), version: z.string() }),
    limits: { deadlineMs: 2000, maxOutputBytes: 1024 },

    // Read-only: the state the decision depends on, straight from the book.
    async facts(params, ctx) {
      const book = await readBook(ctx.workspaceDir);
      const acct = book.accounts[params.from_account];
      const payee = book.payees[params.payee];
      return {
        version: String(book.version),
        account_known: Boolean(acct),
        balance_minor: acct ? acct.balance_minor : 0,
        account_currency: acct ? acct.currency : 'none',
        payee_known: Boolean(payee),
        payee_blocked: payee ? payee.blocked === true : false,
      };
    },
    // The facts' shape: policies over context.facts are type-checked against it (mandate validate).
    factsSchema: z.object({
      version: z.string(),
      account_known: z.boolean(),
      balance_minor: z.number().int(),
      account_currency: z.string(),
      payee_known: z.boolean(),
      payee_blocked: z.boolean(),
    }),
    // How a change between decision and effect is judged. Other transfers move the balance
    // and the book's version all the time, so those two are re-validated: inside the effect
    // section, on the fresh book, the invariants (sufficient funds) and the policies are
    // evaluated again, and the transfer goes ahead only if the decision still holds. Any
    // other fact (the account, its currency, the payee and whether it is blocked) must be
    // exactly as decided. An agent that passes observed_version still pins the version.
    drift: { balance_minor: 'revalidate', version: 'revalidate' },
    // Every transfer rewrites the one book file, so the book is the resource: Mandate runs
    // transfers one at a time from their facts re-read to the end of their write.
    serializeBy: () => 'payments:book',
    invariants: [
      { id: 'account_known', message: 'the source account does not exist', check: ({ facts }) => facts.account_known === true },
      { id: 'payee_known', message: 'the payee is not in the book', check: ({ facts }) => facts.payee_known === true },
      { id: 'currency_matches_account', message: 'currency differs from the account currency', check: ({ params, facts }) => params.currency === facts.account_currency },
      { id: 'sufficient_funds', message: 'amount is larger than the balance', check: ({ values, facts }) => values.amount_minor <= facts.balance_minor },
    ],

    async handler(params, ctx) {
      const book = await readBook(ctx.workspaceDir);
      // Past the deadline (or terminated by an operator): stop before the effect.
      ctx.signal.throwIfAborted();
      // Optimistic concurrency: refuse if the book moved since the kernel read the facts.
      if (String(book.version) !== ctx.facts.version) throw new Error('book changed');
      const acct = book.accounts[params.from_account];
      acct.balance_minor -= params.amount_minor;
      book.version += 1;
      const transferId = `t-${book.version}`;
      book.transfers.push({ id: transferId, dfid: ctx.dfid, decision_id: ctx.decisionId, from_account: params.from_account, payee: params.payee, amount_minor: params.amount_minor, currency: params.currency, at: new Date(ctx.now).toISOString() });
      await writeBook(ctx.workspaceDir, book);
      return { transfer_id: transferId, balance_minor: acct.balance_minor, version: String(book.version) };
    },
    // After a crash between "started" and "finished": did this decision's transfer happen?
    // The book says so: each transfer carries the decision id that made it.
    async reconcile(params, ctx) {
      const book = await readBook(ctx.workspaceDir);
      const done = book.transfers.find((t) => t.decision_id === ctx.decisionId);
      if (!done) return { status: 'not_applied' };
      return { status: 'applied', output: { transfer_id: done.id, balance_minor: book.accounts[params.from_account]?.balance_minor ?? 0, version: String(book.version) } };
    },
    // How to undo a transfer that happened: the reversing transfer, itself a governed and
    // recorded call. A plan that fails asks for it, in reverse order (docs/capabilities.md).
    compensate(params, output) {
      return output && output.transfer_id ? { capability: 'payments.reverse_transfer', params: { transfer_id: output.transfer_id } } : null;
    },
    // Example requests and the verdicts alice's contract and the policies give them, each
    // checked by `mandate capability test payments.transfer` on a fresh copy of the workspace.
    examples: [
      { title: 'a small invoice', params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: 1550, currency: 'EUR' }, contract: 'alice', expect: 'accepted' },
      { title: 'a blocked payee', params: { from_account: 'operating', payee: 'shady-llc', amount_minor: 1550, currency: 'EUR' }, contract: 'alice', expect: 'rejected', reasons: ['POLICY_FORBID'] },
      { title: 'above 100.00 waits for a human', params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: 25000, currency: 'EUR' }, contract: 'alice', expect: 'escalated' },
      { title: 'above the contract cap', params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: 1550000, currency: 'EUR' }, contract: 'alice', expect: 'rejected', reasons: ['CONTRACT_LIMIT_EXCEEDED'] },
    ],
  };

  const reverseTransfer = {
    id: 'payments.reverse_transfer',
    version: '1.0.0',
    title: 'Reverse a transfer',
    description: 'Undo one transfer of the book: its amount goes back to the account it left. A transfer is reversed at most once.',
    sideEffect: 'write',
    input: z.object({ transfer_id: z.string().regex(/^t-[0-9]{1,12}$/).describe('The transfer to undo, e.g. t-42.') }),
    output: z.object({ reversal_id: z.string(), transfer_id: z.string(), balance_minor: z.number().int(), version: z.string() }),
    limits: { deadlineMs: 2000, maxOutputBytes: 1024 },
    async facts(params, ctx) {
      const book = await readBook(ctx.workspaceDir);
      const t = book.transfers.find((x) => x.id === params.transfer_id);
      return { version: String(book.version), transfer_known: Boolean(t), already_reversed: Boolean(t && t.reversed_by), amount_minor: t ? t.amount_minor : 0 };
    },
    factsSchema: z.object({ version: z.string(), transfer_known: z.boolean(), already_reversed: z.boolean(), amount_minor: z.number().int() }),
    drift: { version: 'revalidate' },
    serializeBy: () => 'payments:book',
    invariants: [
      { id: 'transfer_known', message: 'no such transfer in the book', check: ({ facts }) => facts.transfer_known === true },
      { id: 'not_yet_reversed', message: 'the transfer was reversed already', check: ({ facts }) => facts.already_reversed === false },
    ],
    async handler(params, ctx) {
      const book = await readBook(ctx.workspaceDir);
      ctx.signal.throwIfAborted();
      const t = book.transfers.find((x) => x.id === params.transfer_id);
      if (!t || t.reversed_by) throw new Error('transfer unknown or reversed');
      const acct = book.accounts[t.from_account ?? 'operating'];
      acct.balance_minor += t.amount_minor;
      book.version += 1;
      const reversalId = `r-${book.version}`;
      t.reversed_by = reversalId;
      book.reversals = [...(book.reversals ?? []), { id: reversalId, transfer_id: t.id, decision_id: ctx.decisionId, amount_minor: t.amount_minor, at: new Date(ctx.now).toISOString() }];
      await writeBook(ctx.workspaceDir, book);
      return { reversal_id: reversalId, transfer_id: t.id, balance_minor: acct.balance_minor, version: String(book.version) };
    },
    async reconcile(params, ctx) {
      const book = await readBook(ctx.workspaceDir);
      const done = (book.reversals ?? []).find((r) => r.decision_id === ctx.decisionId);
      if (!done) return { status: 'not_applied' };
      const t = book.transfers.find((x) => x.id === done.transfer_id);
      return { status: 'applied', output: { reversal_id: done.id, transfer_id: done.transfer_id, balance_minor: book.accounts[t?.from_account ?? 'operating']?.balance_minor ?? 0, version: String(book.version) } };
    },
  };

  return [getBalance, transfer, reverseTransfer];
}
