import { z } from 'zod';

/** Every default lives here, in one object, so the docs and the code agree. */
export const DEFAULTS = {
  store: { path: 'mandate.db' },
  paths: { contracts: 'contracts', policies: 'policies', capabilities: 'capabilities', memory: 'memory' },
  limits: {
    max_payload_bytes: 65_536,
    default_deadline_ms: 5_000,
    default_max_output_bytes: 65_536,
    max_invocations_per_flow: 50,
    idempotency_window_hours: 24,
    escalation_expiry_minutes: 15,
  },
  breaker: { failure_threshold: 5, cooldown_ms: 30_000 },
  tools: { expose_capabilities: false },
  log: { level: 'info' as const },
  /** Used when mandate.yaml has a `normalizer:` block; without one, free-text intents are refused. */
  normalizer: {
    host: 'http://127.0.0.1:11434',
    routes: { default: 'qwen2.5:1.5b-instruct' } as Record<string, string>,
    route: 'default',
    seed: 42,
    max_tokens: 512,
    timeout_ms: 20_000,
    max_text_bytes: 4_096,
    challenger: { enabled: false, route: 'default', max_tokens: 200 },
  },
};

const positiveInt = z.number().int().positive();
const routeName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'a route name: lowercase letters, digits, _ and -');

const NormalizerSchema = z
  .object({
    host: z
      .url({ protocol: /^https?$/ })
      .default(DEFAULTS.normalizer.host)
      .describe('Base URL of the Ollama server. Keep it local: the text of every free-text intent is sent there.'),
    routes: z
      .record(routeName, z.string().min(1).max(200).describe('An Ollama model name, e.g. qwen2.5:1.5b-instruct.'))
      .default(DEFAULTS.normalizer.routes)
      .describe('Static routing table: route name -> model. Nothing chooses a model at run time.'),
    route: routeName.default(DEFAULTS.normalizer.route).describe('The route free-text intents (submit_intent with text) use.'),
    seed: z.number().int().min(0).max(2_147_483_647).default(DEFAULTS.normalizer.seed).describe('Fixed sampling seed; temperature is always 0.'),
    max_tokens: positiveInt.max(8_192).default(DEFAULTS.normalizer.max_tokens).describe('Most tokens the model may generate per call (num_predict).'),
    timeout_ms: positiveInt.max(600_000).default(DEFAULTS.normalizer.timeout_ms).describe('Deadline of one model call; past it the call is aborted (NORMALIZER_UNAVAILABLE).'),
    max_text_bytes: positiveInt
      .max(1_048_576)
      .default(DEFAULTS.normalizer.max_text_bytes)
      .describe('Longest text accepted, in UTF-8 bytes; longer text is refused with INPUT_TOO_LARGE before any model call.'),
    challenger: z
      .object({
        enabled: z.boolean().default(DEFAULTS.normalizer.challenger.enabled).describe('Ask the model for a short risk summary of every escalation, for the human approver.'),
        route: routeName.default(DEFAULTS.normalizer.challenger.route).describe('The route the challenger uses.'),
        max_tokens: positiveInt.max(2_048).default(DEFAULTS.normalizer.challenger.max_tokens),
      })
      .strict()
      .default(DEFAULTS.normalizer.challenger)
      .describe('Optional second opinion on escalations: one model call, advisory only, never deciding, never required.'),
  })
  .strict()
  .superRefine((n, ctx) => {
    if (!Object.hasOwn(n.routes, n.route)) ctx.addIssue({ code: 'custom', path: ['route'], message: `route \`${n.route}\` is not in routes (${Object.keys(n.routes).join(', ') || 'none'})` });
    if (!Object.hasOwn(n.routes, n.challenger.route)) {
      ctx.addIssue({ code: 'custom', path: ['challenger', 'route'], message: `route \`${n.challenger.route}\` is not in routes (${Object.keys(n.routes).join(', ') || 'none'})` });
    }
  })
  .describe('Free-text intents through a local model (Ollama). Absent: free-text intents are refused with NORMALIZER_UNAVAILABLE. Present (even empty): enabled, with these defaults.');

export type NormalizerConfig = z.infer<typeof NormalizerSchema>;

export const WorkspaceConfigSchema = z
  .object({
    version: z.literal(1).describe('Format version of mandate.yaml; always 1.'),
    store: z
      .object({ path: z.string().min(1).describe('SQLite file, relative to the workspace.') })
      .strict()
      .default(DEFAULTS.store),
    paths: z
      .object({
        contracts: z.string().min(1).default(DEFAULTS.paths.contracts),
        policies: z.string().min(1).default(DEFAULTS.paths.policies),
        capabilities: z.string().min(1).default(DEFAULTS.paths.capabilities),
        memory: z.string().min(1).default(DEFAULTS.paths.memory),
      })
      .strict()
      .default(DEFAULTS.paths),
    limits: z
      .object({
        max_payload_bytes: positiveInt.max(10_485_760).default(DEFAULTS.limits.max_payload_bytes),
        default_deadline_ms: positiveInt.max(600_000).default(DEFAULTS.limits.default_deadline_ms),
        default_max_output_bytes: positiveInt.max(10_485_760).default(DEFAULTS.limits.default_max_output_bytes),
        max_invocations_per_flow: positiveInt.max(100_000).default(DEFAULTS.limits.max_invocations_per_flow),
        idempotency_window_hours: positiveInt.max(24 * 90).default(DEFAULTS.limits.idempotency_window_hours),
        escalation_expiry_minutes: positiveInt.max(7 * 24 * 60).default(DEFAULTS.limits.escalation_expiry_minutes),
      })
      .strict()
      .default(DEFAULTS.limits),
    breaker: z
      .object({
        failure_threshold: positiveInt.max(1_000).default(DEFAULTS.breaker.failure_threshold),
        cooldown_ms: positiveInt.max(3_600_000).default(DEFAULTS.breaker.cooldown_ms),
      })
      .strict()
      .default(DEFAULTS.breaker),
    tools: z
      .object({
        expose_capabilities: z
          .boolean()
          .default(DEFAULTS.tools.expose_capabilities)
          .describe('Also list each granted capability as its own MCP tool.'),
      })
      .strict()
      .default(DEFAULTS.tools),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default(DEFAULTS.log),
    normalizer: NormalizerSchema.optional(),
  })
  .strict();

export type WorkspaceConfig = z.infer<typeof WorkspaceConfigSchema>;
