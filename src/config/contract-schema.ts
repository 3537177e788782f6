import { z } from 'zod';

const ID = /^[a-z][a-z0-9_-]{0,63}$/;
/** One capability: a module's id, or `<upstream>.<tool>` (tool names may hold upper case). */
const CAPABILITY_ID = /^[a-z][a-z0-9_-]*(\.[A-Za-z0-9_-]+)+$/;
/**
 * What a grant or an escalation rule names: a capability id, or a glob over
 * ids. After the first segment, segments may also hold upper case (upstream
 * tool names) and `*`, which matches any characters, dots included: `fs.*`,
 * `fs.read_*`. The first segment (a module's namespace, or an upstream's name)
 * is always literal.
 */
const CAPABILITY_PATTERN = /^[a-z][a-z0-9_-]*(\.[A-Za-z0-9_*-]+)+$/;
const WINDOW = /^[1-9][0-9]*(m|h|d)$/;
/** semver.org's core form, with optional pre-release and build parts; or a plain positive integer (contracts before semver). */
const SEMVER = /^(?:(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?|[1-9]\d*)$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const BudgetSchema = z
  .object({
    window: z.string().regex(WINDOW, 'a window such as 15m, 1h or 1d'),
    max_calls: z.number().int().positive().optional().describe('Most executed calls within the window.'),
    sum: z.string().regex(FIELD).optional().describe('Numeric field (param or derived value) to add up.'),
    max: z.number().int().nonnegative().optional().describe('Largest allowed sum of `sum` within the window.'),
  })
  .strict()
  .refine((b) => b.max_calls !== undefined || (b.sum !== undefined && b.max !== undefined), {
    message: 'a budget needs max_calls, or sum together with max',
  });

export const GrantSchema = z
  .object({
    capability: z
      .string()
      .regex(CAPABILITY_PATTERN, 'a capability id such as payments.transfer, or a glob such as fs.* (an upstream server\'s tools)')
      .describe('A capability id, or a glob over ids (`*` matches any characters): `fs.*` grants every pinned tool of the upstream `fs`.'),
    when: z
      .string()
      .min(1)
      .max(4000)
      .optional()
      .describe('A Cedar condition over principal, resource and context, added to this grant\'s permit: e.g. context.values.path like "/srv/notes/*". Limits on an upstream tool\'s arguments go here.'),
    limits: z
      .object({
        max: z.record(z.string().regex(FIELD), z.number()).optional().describe('Numeric caps by field.'),
        min: z.record(z.string().regex(FIELD), z.number()).optional().describe('Numeric floors by field.'),
        allowed: z
          .record(z.string().regex(FIELD), z.array(z.union([z.string(), z.number(), z.boolean()])).min(1))
          .optional()
          .describe('Allowed values by field.'),
        budgets: z.array(BudgetSchema).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

const UPSTREAM_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const CedarCondition = z.string().min(1).max(4000);

/** An upstream's resources, by URI pattern (ADR-013). */
const ResourceGrantSchema = z
  .object({
    upstream: z.string().regex(UPSTREAM_NAME, 'the name of an upstream in mandate.yaml'),
    uri: z
      .string()
      .min(1)
      .max(2048)
      .describe('A URI, or a pattern where `*` matches any characters: `demo://resource/static/*`, `file:///srv/notes/*`, or `*` for all.'),
    when: CedarCondition.optional().describe('A Cedar condition added to this grant\'s permit, over principal, resource (id, uri, upstream) and context (operation, uri).'),
  })
  .strict()
  .describe('Lets the agent list, read and subscribe to the matching resources of one upstream (and complete the arguments of matching templates).');

/** An upstream's prompts, by name or glob (ADR-013). */
const PromptGrantSchema = z
  .object({
    upstream: z.string().regex(UPSTREAM_NAME, 'the name of an upstream in mandate.yaml'),
    name: z.string().min(1).max(200).describe('A prompt name, or a glob (`*` matches any characters).'),
    when: CedarCondition.optional().describe('A Cedar condition added to this grant\'s permit, over principal, resource (id, name, upstream) and context (arguments: the prompt arguments, strings).'),
  })
  .strict()
  .describe('Lets the agent list and get the matching prompts of one upstream (and complete their arguments).');

/** Requests an upstream sends back to the agent's client in the middle of a call (ADR-013). */
const ClientRequestGrantSchema = z
  .object({
    upstream: z.string().regex(UPSTREAM_NAME, 'the name of an upstream in mandate.yaml'),
    kind: z.enum(['sampling', 'elicitation']).describe("sampling: the upstream may ask the agent's client for a model completion; elicitation: it may ask the agent's user for input."),
    when: CedarCondition.optional().describe('A Cedar condition added to this grant\'s permit, over principal, resource (the upstream: id, upstream) and context (kind, tool, max_tokens, messages, mode).'),
  })
  .strict()
  .describe("Lets an upstream use the agent's own model (sampling) or user (elicitation) during a call; without a grant it is refused.");

const MonitorSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/),
    capability: z.string().regex(CAPABILITY_ID).optional().describe('Only outcomes of this capability (default: all).'),
    over: z
      .union([
        z.object({ last: z.number().int().positive().max(10_000) }).strict(),
        z.object({ window: z.string().regex(WINDOW, 'a window such as 15m, 1h or 1d') }).strict(),
      ])
      .describe('The rolling window: the last N executed outcomes, or a time window.'),
    metric: z
      .union([
        z.object({ avg: z.string().regex(FIELD) }).strict(),
        z.object({ sum: z.string().regex(FIELD) }).strict(),
        z.object({ max: z.string().regex(FIELD) }).strict(),
        z
          .object({
            rate: z.union([
              z.object({ outcome: z.enum(['failed', 'succeeded']) }).strict(),
              z
                .object({
                  field: z.string().regex(FIELD),
                  gt: z.number().optional(),
                  gte: z.number().optional(),
                  lt: z.number().optional(),
                  lte: z.number().optional(),
                  eq: z.union([z.string(), z.number(), z.boolean()]).optional(),
                })
                .strict()
                .describe('An outcome matches when its field equals eq (if given), else when it is a number satisfying every bound given: gt (>), gte (>=), lt (<), lte (<=).'),
            ]),
          })
          .strict(),
      ])
      .describe('What to compute over the window: avg, sum or max of a field, or the rate (0..1) of a predicate.'),
    threshold: z.number().describe('The monitor breaches when the metric is strictly greater than this.'),
    consecutive: z.number().int().positive().max(1_000).default(1).describe('Breaches in a row needed to suspend.'),
  })
  .strict();

const StewardSchema = z
  .object({
    every_n_calls: z.number().int().min(2).max(1_000_000).optional().describe('Force escalation of every Nth executed call.'),
    cumulative: z
      .array(z.object({ window: z.string().regex(WINDOW), sum: z.string().regex(FIELD), max: z.number().nonnegative() }).strict())
      .optional()
      .describe('Escalate (instead of running) once the cumulative sum in the window would pass max.'),
    side_effects: z.array(z.enum(['read', 'write', 'destructive'])).optional().describe('Escalate every call of these side-effect classes.'),
  })
  .strict();

const EscalationRuleSchema = z
  .object({
    capability: z.string().regex(CAPABILITY_PATTERN, 'a capability id, or a glob such as fs.*'),
    when: z.string().min(1).describe('A Cedar condition over principal, resource and context.'),
    reason: z.string().min(1).max(200),
  })
  .strict();

/**
 * Whether and how this agent may hand part of its mandate to sub-agents
 * (ADR-022). Absent: it may not delegate at all (deny by default).
 */
const DelegationSchema = z
  .object({
    capabilities: z
      .array(z.string().regex(CAPABILITY_PATTERN, 'a capability id, or a glob such as fs.*'))
      .min(1)
      .describe('Capabilities (ids or globs) this agent may hand on; a sub-mandate may name only capabilities the agent itself holds and that match one of these.'),
    max_depth: z.number().int().min(1).max(8).default(1).describe('How many levels of sub-agents may hang below this agent (1: children only, who may not delegate further).'),
    max_children: z.number().int().min(1).max(1000).default(5).describe('Most live (not revoked, not expired) sub-mandates this agent may hold at once.'),
    default_expiry_minutes: z.number().int().positive().max(7 * 24 * 60).default(60).describe('Expiry of a sub-mandate that asks for none.'),
    max_expiry_minutes: z.number().int().positive().max(30 * 24 * 60).default(24 * 60).describe('Longest a sub-mandate may live; never beyond this contract\'s effective_until either.'),
  })
  .strict()
  .refine((d) => d.default_expiry_minutes <= d.max_expiry_minutes, { message: 'default_expiry_minutes must not exceed max_expiry_minutes', path: ['default_expiry_minutes'] });

/**
 * Plans (ADR-025): how many steps a plan of this agent may have, how long it
 * may run, and whether the agent's ordinary grants still apply outside a
 * running plan. Absent: the defaults below.
 */
const PlansSchema = z
  .object({
    max_steps: z.number().int().min(1).max(100).default(20).describe('Most steps one plan may have.'),
    max_minutes: z.number().int().positive().max(7 * 24 * 60).default(24 * 60).describe('Longest time limit a plan may ask for.'),
    default_minutes: z.number().int().positive().max(7 * 24 * 60).default(60).describe('Time limit of a plan that asks for none.'),
    outside: z
      .enum(['refuse', 'allow'])
      .default('refuse')
      .describe('While a plan of this agent runs, a call that names no plan is refused (PLAN_CALL_OUTSIDE_PLAN), or governed by the ordinary grants (allow).'),
  })
  .strict()
  .refine((p) => p.default_minutes <= p.max_minutes, { message: 'default_minutes must not exceed max_minutes', path: ['default_minutes'] });

export const ContractSchema = z
  .object({
    agent: z.string().regex(ID, 'lowercase letters, digits, _ or -, starting with a letter'),
    version: z
      .union([z.string().regex(SEMVER, 'a semantic version such as 1.2.0'), z.number().int().positive()], { error: 'a semantic version such as 1.2.0' })
      .transform((v) => String(v))
      .describe('The contract\'s version: a semantic version such as 1.2.0 (a plain integer is accepted too). Every decision records it with the contract\'s hash.'),
    owner: z.string().min(1).describe('Who answers for this contract: a team or a person, e.g. finance-team@example.com.'),
    effective_from: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('ISO 8601 time from which the contract is in effect; before it, every call is refused with CONTRACT_NOT_EFFECTIVE.'),
    effective_until: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('ISO 8601 time at which the contract stops being in effect (exclusive); from then on, every call is refused with CONTRACT_NOT_EFFECTIVE.'),
    mission: z.string().min(1).max(2000),
    role: z.enum(['agent', 'supervisor']),
    default_ttl_seconds: z.number().int().positive().max(86_400).default(300),
    grants: z.array(GrantSchema).default([]),
    resources: z.array(ResourceGrantSchema).default([]).describe("Upstream resources the agent may list, read and subscribe to; the first matching entry governs (deny by default)."),
    prompts: z.array(PromptGrantSchema).default([]).describe('Upstream prompts the agent may list and get; the first matching entry governs (deny by default).'),
    client_requests: z
      .array(ClientRequestGrantSchema)
      .default([])
      .describe("Sampling and elicitation requests an upstream may relay to the agent's client during a call (deny by default)."),
    memory: z
      .array(
        z
          .object({
            scope: z.string().regex(ID),
            max_sensitivity: z.enum(['standard', 'elevated', 'restricted']),
            write: z.boolean().default(false).describe('May write this scope through memory.write (up to max_sensitivity).'),
          })
          .strict(),
      )
      .default([]),
    escalation: z
      .object({
        expiry_minutes: z.number().int().positive().max(7 * 24 * 60).optional(),
        rules: z.array(EscalationRuleSchema).default([]),
        client_approval: z
          .boolean()
          .default(false)
          .describe('Let the human in the MCP client approve through elicitation (off: a program can answer an elicitation).'),
      })
      .strict()
      .default({ rules: [], client_approval: false }),
    stewards: StewardSchema.default({}).describe('Steward gates: conditions that force a human decision.'),
    monitors: z.array(MonitorSchema).default([]).describe('Drift monitors: a breach suspends the agent until an operator resumes it.'),
    approves: z
      .array(z.string().regex(ID))
      .default([])
      .describe('Agents whose escalations this supervisor may approve or deny (never its own).'),
    supervises: z.array(z.string().regex(ID)).default([]).describe('Agents a supervisor may pause or terminate.'),
    plans: PlansSchema.optional().describe('Plans: bounded multi-step plans decided and approved as a whole (ADR-025).'),
    delegation: DelegationSchema.optional().describe('Sub-mandates: what this agent may hand on to sub-agents, how deep and for how long (absent: nothing). Grants the built-in capability delegation.create (the `delegate` tool).'),
  })
  .strict()
  .refine((c) => !c.effective_from || !c.effective_until || Date.parse(c.effective_from) < Date.parse(c.effective_until), {
    message: 'effective_until must be later than effective_from',
    path: ['effective_until'],
  });

export type Contract = z.infer<typeof ContractSchema>;
export type Grant = Contract['grants'][number];
export type Budget = NonNullable<Grant['limits']['budgets']>[number];
export type Monitor = Contract['monitors'][number];
export type ResourceGrant = Contract['resources'][number];
export type PromptGrant = Contract['prompts'][number];
export type ClientRequestGrant = Contract['client_requests'][number];
export type DelegationSection = NonNullable<Contract['delegation']>;
export type PlansSection = z.infer<typeof PlansSchema>;

/** The plans section of a contract that has none: parsed once, not at every call that asks (frozen, as it is shared). */
const DEFAULT_PLANS: PlansSection = Object.freeze(PlansSchema.parse({}));

/** A contract's plans section with its defaults (absent: every default). */
export function plansOf(contract: Pick<Contract, 'plans'>): PlansSection {
  return contract.plans ?? DEFAULT_PLANS;
}

/** True when a grant or rule names a glob rather than one capability. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

/** Whether a grant's or rule's capability (an id or a glob) covers this capability id. */
export function capabilityMatches(pattern: string, id: string): boolean {
  if (!isGlob(pattern)) return pattern === id;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(id);
}

/**
 * The grant that governs a capability for this contract: its exact grant if
 * there is one, else the first glob grant that matches it, in contract order.
 * The Cedar compilation follows the same rule (src/policy/compile.ts).
 */
export function grantFor(contract: Pick<Contract, 'grants'>, id: string): Grant | undefined {
  return contract.grants.find((g) => g.capability === id) ?? contract.grants.find((g) => isGlob(g.capability) && capabilityMatches(g.capability, id));
}

/** Whether a pattern where `*` matches any characters (and nothing else is special) covers a value: resource URIs, prompt names. */
export function wildcardMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(value);
}

/** The resource grant that governs a URI of an upstream: the first that matches, in contract order. */
export function resourceGrantFor(contract: Pick<Contract, 'resources'>, upstream: string, uri: string): ResourceGrant | undefined {
  return contract.resources.find((g) => g.upstream === upstream && wildcardMatches(g.uri, uri));
}

/** The prompt grant that governs a prompt of an upstream: the first that matches, in contract order. */
export function promptGrantFor(contract: Pick<Contract, 'prompts'>, upstream: string, name: string): PromptGrant | undefined {
  return contract.prompts.find((g) => g.upstream === upstream && wildcardMatches(g.name, name));
}

/** Parses '15m', '1h', '1d' into milliseconds. */
export function windowMs(window: string): number {
  const match = /^([1-9][0-9]*)(m|h|d)$/.exec(window);
  if (!match) throw new RangeError(`invalid window \`${window}\``);
  const unit = match[2] === 'm' ? 60_000 : match[2] === 'h' ? 3_600_000 : 86_400_000;
  return Number(match[1]) * unit;
}
