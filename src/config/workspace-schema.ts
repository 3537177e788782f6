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
};

const positiveInt = z.number().int().positive();

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
  })
  .strict();

export type WorkspaceConfig = z.infer<typeof WorkspaceConfigSchema>;
