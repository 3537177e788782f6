#!/usr/bin/env node
import { Argument, Command, CommanderError, Option } from 'commander';
import { SERVER_INFO } from '../mcp/server.js';
import { capabilityNew, capabilityTest } from './commands/capability.js';
import { checkCommand, type CheckOptions } from './commands/check.js';
import { policyImpactCommand, type ImpactOptions } from './commands/policy.js';
import { reloadCommand, type ReloadOptions } from './commands/reload.js';
import { approvalsApprove, approvalsDeny, approvalsList, approvalsShow, decisionsSettle } from './commands/approvals.js';
import { doctorCommand } from './commands/doctor.js';
import { plansAbandon, plansList, plansResume, plansShow, plansSubmit } from './commands/plans.js';
import { INIT_CREATES, initWorkspace } from './commands/init.js';
import { interveneCommand, interventionsList, type InterveneOptions } from './commands/intervene.js';
import { keysCreate, keysList, keysRevoke, type KeysCreateOptions } from './commands/keys.js';
import { delegationsAttenuate, delegationsCreate, delegationsRevoke, delegationsShow, delegationsToken, delegationsTree, type DelegationsCreateOptions } from './commands/delegations.js';
import type { InterventionAct } from '../kernel/interventions.js';
import { ledgerExport, ledgerTail, ledgerVerify, type LedgerVerifyOptions } from './commands/ledger.js';
import { receiptVerify } from './commands/receipt.js';
import { serve, type ServeOptions } from './commands/serve.js';
import { storeCopy, storeMigrate, storeStatus } from './commands/store.js';
import { upstreamPin, type PinOptions } from './commands/upstream.js';
import { testCommand } from './commands/test.js';
import { validateCommand } from './commands/validate.js';
import { EXIT, fail } from './common.js';
import { jsonOption, operatorOption, withDefault, workspaceOption } from './options.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- commander passes positional args untyped
function run<A extends any[]>(action: (...args: A) => Promise<number | void> | number | void) {
  return async (...args: A) => {
    try {
      const code = await action(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      fail(err);
    }
  };
}

const program = new Command()
  .name('mandate')
  .description('A governance kernel between AI agents and their side effects, served over MCP.')
  .version(SERVER_INFO.version)
  .exitOverride()
  .showHelpAfterError('(run mandate --help for usage)');

program
  .command('init')
  .description('write a working example workspace into a new or empty folder (what it creates is listed below)')
  .argument('<dir>', 'new or empty folder')
  .addHelpText('after', INIT_CREATES)
  .action(
    run((dir: string) => {
      const written = initWorkspace(dir);
      process.stdout.write(`workspace written to ${written}\nnext: mandate validate -w ${dir}\n      mandate test -w ${dir}\n      mandate serve --stdio --agent alice -w ${dir}\n`);
      return EXIT.ok;
    }),
  );

program
  .command('validate')
  .description('check a workspace; exit 2 listing every problem (file, path, fix hint)')
  .addOption(workspaceOption())
  .addOption(jsonOption())
  .option('--cedar-schema', 'print the Cedar schemas (JSON) policies are type-checked against: one per capability and set of usage fields, with the agents it applies to')
  .action(run((opts: { workspace?: string; json?: boolean; cedarSchema?: boolean }) => validateCommand(opts)));

program
  .command('test')
  .description("run the contract tests in tests/*.yaml: each case through the real pipeline on a temporary store, at a fixed time, with the facts the case gives (else the capability's own resolver, read-only), never running a handler; a line per case, a diff on failure; exit 0 all pass, 1 a case failed, 2 a broken workspace or test file")
  .addOption(workspaceOption())
  .option('--filter <text>', 'only cases whose name contains this text')
  .addOption(jsonOption())
  .action(run((opts: { workspace?: string; json?: boolean; filter?: string }) => testCommand(opts)));

program
  .command('serve')
  .description('serve governed tools over MCP: one agent over stdio, or every agent with a credential over HTTP')
  .option('--stdio', 'speak MCP over stdin/stdout (for Claude Desktop, Cursor, IDE agents)')
  .option('--http', 'serve Streamable HTTP at /mcp, the operator API, /events, /metrics and the console at /console')
  .addOption(new Option('--agent <id>', 'stdio: the agent this server acts for (or $MANDATE_AGENT)'))
  .addOption(new Option('--host <host>', 'http: interface to listen on (default: http.host, 127.0.0.1)'))
  .addOption(new Option('--port <port>', 'http: TCP port, 0 for any free one (default: http.port, 8080)'))
  .option('--json-response', 'http: answer POST /mcp with plain JSON instead of an SSE stream (default: http.json_response)')
  .option('--watch', 'reload contracts, policies and capability modules when their files change (500 ms after the last change; a broken set is refused and the old one keeps serving)')
  .addOption(workspaceOption())
  .addOption(new Option('--log-level <level>', 'log level on stderr (or $MANDATE_LOG_LEVEL, else log.level)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  .addHelpText('after', '\nTracing is off unless $OTEL_EXPORTER_OTLP_ENDPOINT (or $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or telemetry.traces in\nmandate.yaml) names an OTLP/HTTP collector; $OTEL_SDK_DISABLED=true turns it off. See docs/operations/tracing.md.')
  .action(run((opts: ServeOptions) => serve(opts)));

program
  .command('doctor')
  .description('check free-text intents (is Ollama reachable, are the models pulled) and every upstream (does it start, do its tools, resources and prompts match the pins); exit 0 ok, 1 not')
  .addOption(workspaceOption())
  .addOption(jsonOption())
  .action(run((opts: { workspace?: string; json?: boolean }) => doctorCommand(opts)));

const upstream = program.command('upstream').description('the gateway: upstream MCP servers whose tools, resources and prompts Mandate governs');
upstream
  .command('pin')
  .description("record the definition of each upstream tool, resource, resource template and prompt (and the server's identity) as accepted; changed ones stay quarantined until pinned again")
  .option('--server <name>', 'only this upstream (default: every one)')
  .option('--dry-run', 'show what would change, pin nothing')
  .addOption(jsonOption())
  .addOption(operatorOption('the pins, in the ledger'))
  .addOption(workspaceOption())
  .action(run((opts: PinOptions) => upstreamPin(opts)));

const capability = program.command('capability').description("a capability author's tools: scaffold an in-process capability, check it");
capability
  .command('new')
  .description('scaffold an in-process capability in the capabilities folder: manifest, zod schemas, facts resolver, handler, examples, and a test file')
  .argument('<id>', 'dotted lowercase id, e.g. notes.append')
  .option('--title <text>', 'the human title (default: from the id)')
  .addOption(workspaceOption())
  .action(run((id: string, opts: { workspace?: string; title?: string }) => capabilityNew(id, opts)));
capability
  .command('test')
  .description("check a capability on temporary copies of the workspace: schemas, facts read-only and deterministic, output schema, deadline and abort signal, side-effect class, its examples' verdicts through the kernel, its test file; exit 0 ok, 1 a check failed, 2 usage")
  .argument('<id>', 'the capability id')
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((id: string, opts: { workspace?: string; json?: boolean }) => capabilityTest(id, opts)));

const ledger = program.command('ledger').description('inspect the hash-chained ledger');
ledger
  .command('verify')
  .description('recompute every hash and link; with --checkpoints, also compare the chain with its signed checkpoints (truncation, forged appends, re-hashes); exit 0 intact, 1 broken (naming what is missing or changed)')
  .option('--checkpoints [file|dir]', 'also compare with signed checkpoints: a .jsonl file or a folder of them (default: signing.checkpoints.path of mandate.yaml)')
  .option('--pubkey <file>', "with --checkpoints: the public key that signed them (default: that of the workspace's signing key in mandate.yaml)")
  .addOption(withDefault('--allow-unanchored <n>', 'accept up to n events after the last checkpoint (a ledger still being written)', '0'))
  .addOption(workspaceOption())
  .action(run((opts: LedgerVerifyOptions) => ledgerVerify(opts)));
ledger
  .command('export')
  .description('print every event as JSON Lines: one JSON object per line (contracts/schema/ledger-event.schema.json)')
  .addOption(withDefault('--from <seq>', 'first sequence to export', '1'))
  // JSON Lines is the only format: --jsonl is still accepted, so that existing scripts keep working, but changes nothing and is not listed.
  .addOption(new Option('--jsonl').hideHelp())
  .addOption(workspaceOption())
  .action(run((opts: { workspace?: string; from?: string }) => ledgerExport(opts)));
ledger
  .command('tail')
  .description('print the last events; --follow to keep printing new ones')
  .addOption(withDefault('-n, --lines <n>', 'how many events', '20'))
  .option('-f, --follow', 'keep printing new events')
  .addOption(jsonOption('one event per line'))
  .addOption(workspaceOption())
  .action(run((opts: { workspace?: string; lines?: string; follow?: boolean; json?: boolean }) => ledgerTail(opts)));

const decisions = program.command('decisions').description('decisions a crash left with an unknown outcome (ADR-017)');
decisions
  .command('settle')
  .description('say whether the effect of a decision whose outcome is unknown happened: --applied records it (a retry replays it), --not-applied releases its key (a retry runs)')
  .argument('<decision_id>')
  .option('--applied', 'the effect happened')
  .option('--not-applied', 'the effect did not happen')
  .option('--reason <text>', 'why (recorded as a hash)')
  .addOption(operatorOption('the settlement'))
  .addOption(workspaceOption())
  .action(run((id: string, opts: { workspace?: string; as?: string; applied?: boolean; notApplied?: boolean; reason?: string }) => decisionsSettle(id, opts)));
const receipt = program.command('receipt').description('signed receipts of decisions');
receipt
  .command('verify')
  .description("check a signed receipt offline against the workspace's public key; exit 0 valid, 1 not")
  .argument('<receipt>', 'a JSON file (the receipt, or an answer carrying signed_receipt), or - for stdin')
  .option('--pubkey <file>', "the public key (default: that of the workspace's signing key in mandate.yaml)")
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((file: string, opts: { pubkey?: string; workspace?: string; json?: boolean }) => receiptVerify(file, opts)));

const approvals = program.command('approvals').description('decide escalated requests as a human operator');
approvals.command('list').description('pending escalations (overdue ones are expired first)').addOption(jsonOption()).addOption(workspaceOption()).action(run((opts: { workspace?: string; json?: boolean }) => approvalsList(opts)));
approvals.command('show').description('one decision with the exact call: params as sent and as derived, facts, reasons, the request hash it binds').argument('<decision_id>').addOption(workspaceOption()).action(run((id: string, opts: { workspace?: string }) => approvalsShow(id, opts)));
approvals
  .command('approve')
  .description('approve a pending escalation: the stored request runs now, after its facts are re-checked; prints the JSON outcome (or the error and the recorded outcome when it is not pending); exit 0 ran, 1 refused, failed, expired or not pending')
  .argument('<decision_id>')
  .addOption(operatorOption('the approval'))
  .option('--note <text>', 'why (recorded as a hash)')
  .addOption(workspaceOption())
  .action(run((id: string, opts: { workspace?: string; as?: string; note?: string }) => approvalsApprove(id, opts)));
approvals
  .command('deny')
  .description('deny a pending escalation; prints the JSON outcome (or the error and the recorded outcome when it is not pending); exit 0 denied, 1 not pending')
  .argument('<decision_id>')
  .addOption(operatorOption('the denial'))
  .option('--note <text>', 'why (recorded as a hash)')
  .addOption(workspaceOption())
  .action(run((id: string, opts: { workspace?: string; as?: string; note?: string }) => approvalsDeny(id, opts)));

const plans = program.command('plans').description('bounded multi-step plans of agents: submission on their behalf, their reports, resume and abandon (ADR-025)');
plans
  .command('submit')
  .description("submit a plan on an agent's behalf, decided as its own submit_plan; prints the outcome (escalated: waiting for one approval); exit 0 accepted or escalated, 1 refused")
  .requiredOption('--agent <id>', 'the agent whose plan it is')
  .requiredOption('--plan <file>', 'the plan as JSON (purpose, steps, order, budgets, expires_in_minutes, as in submit_plan); - for stdin')
  .addOption(operatorOption('the submission'))
  .addOption(workspaceOption())
  .action(run((opts: { workspace?: string; as?: string; agent?: string; plan?: string }) => plansSubmit(opts)));
plans
  .command('list')
  .description('every plan: id, agent, status (running, failed at a step, completed, ...), decision and expiry')
  .option('--agent <id>', "only this agent's plans")
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((opts: { workspace?: string; agent?: string; json?: boolean }) => plansList(opts)));
plans
  .command('show')
  .description("a plan's report as JSON: planned steps and their state, executed steps, unplanned attempts, missed steps, totals against the plan's budgets")
  .argument('<plan_id>')
  .addOption(workspaceOption())
  .action(run((id: string, opts: { workspace?: string }) => plansShow(id, opts)));
plans
  .command('resume')
  .description('resume a failed plan: the steps after the one it stopped at may run again (that step stays failed); prints the report. With --steps, those steps are replaced: the change is decided again and waits for a new approval; prints that decision')
  .argument('<plan_id>')
  .option('--steps <file>', 'a JSON array of steps (as in submit_plan) replacing those after the one it stopped at; - for stdin')
  .addOption(operatorOption('the resume'))
  .addOption(workspaceOption())
  .action(run((id: string, opts: { workspace?: string; as?: string; steps?: string }) => plansResume(id, opts)));
plans
  .command('abandon')
  .description('abandon a pending, running or failed plan: nothing more of it runs and its sub-mandate is revoked; prints the report')
  .argument('<plan_id>')
  .addOption(operatorOption('the abandonment'))
  .option('--reason <text>', 'why (recorded as a hash)')
  .addOption(workspaceOption())
  .action(run((id: string, opts: { workspace?: string; as?: string; reason?: string }) => plansAbandon(id, opts)));

program
  .command('check')
  .description('would this call be allowed? runs the pipeline up to the effect, with no effect and no idempotency key reserved, and prints the verdict, reasons, values, facts, matched policies and who an escalation would wait for; recorded as a check, never a decision; exit 0 would be accepted, 1 refused or escalated')
  .option('--agent <id>', 'the agent that would call')
  .option('--capability <id>', 'the capability it would invoke')
  .option('--params <json>', 'its params as a JSON object (default: {})')
  .option('--at <time>', 'judge as of this ISO 8601 time (default: now)')
  .addOption(operatorOption('the check'))
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((opts: CheckOptions) => checkCommand(opts)));

program
  .command('reload')
  .description("check the workspace's contracts, policies and capability modules, then ask every serving process of it on this host to reload them (SIGHUP); a broken set is reported and nothing is signalled (exit 2); calls in flight finish under the set they started with; replicas elsewhere: POST /api/v1/reload")
  .addOption(operatorOption('the reload'))
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((opts: ReloadOptions) => reloadCommand(opts)));

const policy = program.command('policy').description('foresee what a change of contracts or policies would do');
policy
  .command('impact')
  .description('replay past decisions against a proposed workspace (other contracts or policies) and report each whose verdict would change (allowed→refused, refused→allowed, →escalated), by agent and capability with the totals of their amounts; exit 0 nothing would change, 1 something would (unless --allow-changes) or a stored input does not match the ledger, 2 the proposed workspace does not load')
  .option('--proposed <dir>', 'the workspace folder with the proposed contracts and policies')
  .option('--since <time>', 'only decisions since this ISO 8601 time or duration back (90m, 24h, 7d)')
  .option('--agent <id>', "only this agent's decisions")
  .option('--capability <id>', 'only decisions on this capability')
  .option('--allow-changes', 'exit 0 even when verdicts would change (report only)')
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((opts: ImpactOptions) => policyImpactCommand(opts)));

program
  .command('intervene')
  .description('act on an agent or a flow as an operator: pause, resume, terminate, constrain or redirect')
  .addArgument(new Argument('<act>', 'pause | resume | terminate | constrain | redirect').choices(['pause', 'resume', 'terminate', 'constrain', 'redirect']))
  .option('--agent <id>', 'the agent to act on')
  .option('--dfid <dfid>', "a flow to act on (pause, resume, terminate): every agent's calls in it, or with --agent that agent's")
  .option('--capability <id>', 'constrain: the capability whose limit to tighten')
  .option('--field <name>', 'constrain: the limited field, e.g. amount_minor')
  .option('--max <n>', 'constrain: the new cap (never above the contract)')
  .option('--note <text>', 'redirect: the note the agent receives on its next call')
  .option('--minutes <n>', 'constrain/redirect: how long it lasts (default: 60)')
  .option('--reason <text>', 'why (recorded as a hash)')
  .addOption(operatorOption('the intervention'))
  .addOption(workspaceOption())
  .action(run((act: InterventionAct, opts: InterveneOptions) => interveneCommand(act, opts)));

program
  .command('interventions')
  .description('list interventions, newest first, with their lifecycle state')
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((opts: { workspace?: string; json?: boolean }) => interventionsList(opts)));

const delegations = program.command('delegations').description('sub-mandates: agents holding part of another agent\'s authority (ADR-022)');
delegations
  .command('create')
  .description("create a sub-mandate on a parent's behalf, decided as the parent's own delegate call; prints the JSON outcome; exit 0 created, 1 refused or escalated")
  .requiredOption('--parent <id>', 'the delegating agent')
  .requiredOption('--request <file>', 'the request as JSON (child, purpose, grants, memory, expires_in_minutes, may_delegate, max_depth), or - for stdin')
  .option('--key', 'mint an agent key for the child (printed once)')
  .addOption(operatorOption('the creation'))
  .addOption(workspaceOption())
  .action(run((opts: DelegationsCreateOptions) => delegationsCreate(opts)));
delegations
  .command('tree')
  .description('the delegation tree: each node with its status, expiry and remaining budgets')
  .option('--root <agent>', 'only the tree under this root contract')
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((opts: { workspace?: string; root?: string; json?: boolean }) => delegationsTree(opts)));
delegations.command('show').description('one sub-mandate as JSON, with its chain up to the root').argument('<child>').addOption(workspaceOption()).action(run((child: string, opts: { workspace?: string }) => delegationsShow(child, opts)));
delegations
  .command('revoke')
  .description('revoke a sub-mandate, every sub-mandate below it and all their keys; exit 0 revoked, 1 already ended')
  .argument('<child>')
  .option('--reason <text>', 'why (recorded as a hash)')
  .addOption(operatorOption('the revocation'))
  .addOption(workspaceOption())
  .action(run((child: string, opts: { workspace?: string; as?: string; reason?: string }) => delegationsRevoke(child, opts)));

delegations.command('token').description("print a Biscuit token for a live sub-mandate, signed with the workspace key; its holder may narrow it offline and present it in _meta['mandate/delegation_token'] or, over HTTP, as the credential itself (Authorization: Bearer)").argument('<child>').addOption(workspaceOption()).action(run((child: string, opts: { workspace?: string }) => delegationsToken(child, opts)));
delegations
  .command('attenuate')
  .description('append a narrower block (Datalog checks) to a token, offline; prints the new token')
  .argument('<token>')
  .requiredOption('--check <datalog>', 'e.g. check if value("amount_minor", $a), $a <= 5000;')
  .requiredOption('--pubkey <file>', "the workspace's public key (keys/signing.pub)")
  .action(run((token: string, opts: { pubkey?: string; check?: string }) => delegationsAttenuate(token, opts)));

const store = program.command('store').description('the store: SQLite (default) or PostgreSQL shared by several replicas');
store
  .command('migrate')
  .description('apply pending schema migrations (serve applies them at start too)')
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((opts: { workspace?: string; json?: boolean }) => storeMigrate(opts)));
store
  .command('status')
  .description('kind, location, schema version, pending migrations and chain head; exit 1 when migrations are pending')
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((opts: { workspace?: string; json?: boolean }) => storeStatus(opts)));
store
  .command('copy')
  .description('move a SQLite store, chain included, into an empty PostgreSQL database, then verify the copy')
  .requiredOption('--from <kind>', 'source store kind (sqlite)')
  .requiredOption('--to <kind>', 'target store kind (postgres)')
  .option('--sqlite <file>', 'the SQLite file (default: store.path of the workspace, else mandate.db)')
  .option('--url-env <name>', 'environment variable with the target URL (default: store.url_env, else MANDATE_DATABASE_URL)')
  .addOption(jsonOption())
  .addOption(workspaceOption())
  .action(run((opts: { workspace?: string; from?: string; to?: string; sqlite?: string; urlEnv?: string; json?: boolean }) => storeCopy(opts)));

const keys = program.command('keys').description('API keys for agents and operators (serve --http); only their hashes are stored');
keys
  .command('create')
  .description('create a key and print it once: --agent <id>, or --operator <name> with --role operator|viewer')
  .option('--agent <id>', 'the agent the key acts as')
  .option('--operator <name>', 'the operator the key belongs to')
  .addOption(new Option('--role <role>', 'operator keys: operator (may decide and intervene) or viewer (read-only)').choices(['operator', 'viewer']))
  .option('--label <text>', 'a note to tell keys apart')
  .addOption(operatorOption('the new key, as its creator'))
  .addOption(jsonOption('{ id, key, kind, principal, role, label }'))
  .addOption(workspaceOption())
  .action(run((opts: KeysCreateOptions) => keysCreate(opts)));
keys.command('list').description('every key: id, holder, role, prefix, created, revoked').addOption(jsonOption()).addOption(workspaceOption()).action(run((opts: { workspace?: string; json?: boolean }) => keysList(opts)));
keys
  .command('revoke')
  .description('revoke a key; the next request that presents it gets 401')
  .argument('<id>')
  .addOption(operatorOption('the revocation'))
  .addOption(workspaceOption())
  .action(run((id: string, opts: { workspace?: string; as?: string }) => keysRevoke(id, opts)));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.config);
  fail(err);
}
