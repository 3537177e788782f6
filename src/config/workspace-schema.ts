import { z } from 'zod';

/** Every default lives here, in one object, so the docs and the code agree. */
export const DEFAULTS = {
  store: { path: 'mandate.db' },
  postgres: { url_env: 'MANDATE_DATABASE_URL', pool_max: 10 },
  paths: { contracts: 'contracts', policies: 'policies', capabilities: 'capabilities', memory: 'memory', tests: 'tests' },
  limits: {
    max_payload_bytes: 65_536,
    default_deadline_ms: 5_000,
    default_max_output_bytes: 65_536,
    max_invocations_per_flow: 50,
    idempotency_window_hours: 24,
    escalation_expiry_minutes: 15,
  },
  breaker: { failure_threshold: 5, cooldown_ms: 30_000 },
  /** How long the store keeps what each decision's policy request saw, for `mandate policy impact` (ADR-023); 0 keeps none. */
  retention: { policy_inputs_days: 90 },
  tools: { expose_capabilities: false, mandate_tools: true },
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
  http: {
    host: '127.0.0.1',
    port: 8080,
    json_response: false,
    allowed_hosts: [] as string[],
    allowed_origins: [] as string[],
    max_body_bytes: 20_480,
    headers_timeout_ms: 10_000,
    request_timeout_ms: 30_000,
    rate_limit: { per_principal_per_second: 100, overall_per_second: 1_000 },
    sessions: { max_per_agent: 16, max_total: 1_000, idle_timeout_seconds: 900, max_events: 1_000, event_retention_minutes: 60 },
    events: { keepalive_ms: 20_000, poll_ms: 250, max_connections: 64, max_backlog: 500 },
    metrics: { require_auth: false },
    auth: { authorization_servers: [] as string[] },
  },
  /** Used when mandate.yaml has a `signing:` block (ADR-016). */
  signing: {
    receipts: true,
    checkpoints: { path: 'checkpoints', every_events: 100, every_seconds: 10 },
  },
  /** For each entry of `upstreams:` (the gateway, ADR-008). Deadline and output cap default to `limits`. */
  upstream: {
    expose: 'prefixed' as 'prefixed' | 'transparent',
    max_concurrency: 4,
    max_queue: 16,
    start_timeout_ms: 10_000,
    restart: { initial_ms: 500, max_ms: 30_000 },
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

const D = DEFAULTS.http;

/** A JWT verifier for agent credentials: HS256 secret from an env var, or a JWKS file. */
const JwtConfigSchema = z
  .object({
    issuer: z.string().min(1).describe('Required `iss` claim.'),
    audience: z.string().min(1).describe('Required `aud` claim, usually the public URL of /mcp.'),
    jwks_file: z.string().min(1).optional().describe('A JWKS (JSON Web Key Set) file, relative to the workspace, with the public keys tokens are signed with.'),
    secret_env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/)
      .optional()
      .describe('Name of the environment variable holding an HS256 shared secret (at least 32 bytes). The secret itself never goes in this file.'),
    agent_claim: z.string().min(1).default('sub').describe('The claim that names the agent (default `sub`).'),
    algorithms: z.array(z.string().min(1)).min(1).optional().describe('Accepted `alg` values (default: HS256 with secret_env; RS256, PS256, ES256, EdDSA with jwks_file).'),
    clock_tolerance_seconds: z.number().int().min(0).max(300).default(30),
  })
  .strict()
  .refine((j) => (j.jwks_file === undefined) !== (j.secret_env === undefined), { message: 'set exactly one of jwks_file or secret_env' });

/** `mandate serve --http`: the HTTP edge (src/http/). */
export const HttpConfigSchema = z
  .object({
    host: z.string().min(1).default(D.host).describe('Interface to listen on (--host overrides).'),
    port: z.number().int().min(0).max(65_535).default(D.port).describe('TCP port (--port overrides; 0 picks a free one).'),
    public_url: z
      .string()
      .regex(/^https?:\/\/[^/?#\s]+$/)
      .optional()
      .describe('The origin clients reach this server at, e.g. https://mandate.example.com behind a TLS proxy. Its host and origin are allowed, and it names the resource in the OAuth metadata.'),
    json_response: z.boolean().default(D.json_response).describe('Answer POST /mcp with plain JSON instead of an SSE stream (--json-response overrides).'),
    allowed_hosts: z.array(z.string().min(1)).default(D.allowed_hosts).describe('Extra Host header values to accept (host:port), beyond the listen address and, on loopback, localhost.'),
    allowed_origins: z.array(z.string().regex(/^https?:\/\/[^/?#\s]+$/)).default(D.allowed_origins).describe('Extra browser Origins to accept; requests with any other Origin get 403.'),
    max_body_bytes: positiveInt.max(10_485_760).default(D.max_body_bytes).describe('Largest request body; larger gets 413.'),
    headers_timeout_ms: positiveInt.max(600_000).default(D.headers_timeout_ms).describe('Time a client has to send the request headers.'),
    request_timeout_ms: positiveInt.max(600_000).default(D.request_timeout_ms).describe('Time a client has to send the whole request (not the response, so streams are unaffected).'),
    rate_limit: z
      .object({
        per_principal_per_second: z.number().positive().max(1_000_000).default(D.rate_limit.per_principal_per_second).describe('Requests per second for each agent or operator (token bucket, burst of one second).'),
        overall_per_second: z.number().positive().max(10_000_000).default(D.rate_limit.overall_per_second).describe('Requests per second for all principals together.'),
      })
      .strict()
      .default(D.rate_limit),
    sessions: z
      .object({
        max_per_agent: positiveInt.max(10_000).default(D.sessions.max_per_agent).describe('Open MCP sessions one agent may hold.'),
        max_total: positiveInt.max(100_000).default(D.sessions.max_total).describe('Open MCP sessions in this process.'),
        idle_timeout_seconds: positiveInt.max(86_400).default(D.sessions.idle_timeout_seconds).describe('A session with no request for this long is closed.'),
        max_events: positiveInt.max(100_000).default(D.sessions.max_events).describe('Stream events kept per session for resumption (Last-Event-ID).'),
        event_retention_minutes: positiveInt.max(1_440).default(D.sessions.event_retention_minutes).describe('Stream events older than this are dropped.'),
      })
      .strict()
      .default(D.sessions),
    events: z
      .object({
        keepalive_ms: positiveInt.min(10).max(60_000).default(D.events.keepalive_ms).describe('Keepalive comment interval on GET /events.'),
        poll_ms: positiveInt.min(10).max(10_000).default(D.events.poll_ms).describe('How often GET /events reads new ledger events from the store.'),
        max_connections: positiveInt.max(10_000).default(D.events.max_connections).describe('Open GET /events streams in this process.'),
        max_backlog: positiveInt.max(10_000).default(D.events.max_backlog).describe('Largest ?backlog= a client may ask for.'),
      })
      .strict()
      .default(D.events),
    metrics: z
      .object({ require_auth: z.boolean().default(D.metrics.require_auth).describe('true: /metrics needs an operator or viewer credential.') })
      .strict()
      .default(D.metrics),
    auth: z
      .object({
        jwt: JwtConfigSchema.optional(),
        authorization_servers: z.array(z.string().min(1)).default(D.auth.authorization_servers).describe('Listed in the OAuth protected resource metadata (RFC 9728); defaults to the JWT issuer.'),
      })
      .strict()
      .default(D.auth),
  })
  .strict()
  .refine((h) => h.headers_timeout_ms <= h.request_timeout_ms, { message: 'headers_timeout_ms must not exceed request_timeout_ms', path: ['headers_timeout_ms'] });

export type HttpConfig = z.infer<typeof HttpConfigSchema>;

/** Names that say "this is a secret": their values must come from the environment. */
const SECRET_NAME = /(TOKEN|SECRET|PASSW|API[_-]?KEY|ACCESS[_-]?KEY|PRIVATE[_-]?KEY|CREDENTIAL|AUTH|COOKIE|SESSION)/i;
/** Values that look like a credential whatever their name (GitHub, OpenAI, Slack, AWS keys, JWTs, bearer tokens). */
const SECRET_VALUE = /^(gh[pousr]_|github_pat_|sk-|xox[abpr]-|AKIA[0-9A-Z]{8}|eyJ[A-Za-z0-9_-]{8,}|bearer\s+\S{8,}|basic\s+\S{8,})/i;

const FromEnvSchema = z
  .object({
    from_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name').describe('Read the value from this environment variable of the Mandate process.'),
    prefix: z.string().max(64).optional().describe('Put in front of the value, e.g. "Bearer " for an Authorization header.'),
  })
  .strict()
  .describe('A value taken from the environment when the upstream starts; never written in the file.');

const ConfiguredValue = z.union([z.string().max(4_096).describe('A literal value; refused for anything that looks like a secret.'), FromEnvSchema]);

function refuseLiteralSecrets(record: Record<string, z.infer<typeof ConfiguredValue>>, where: string, ctx: z.RefinementCtx): void {
  for (const [name, value] of Object.entries(record)) {
    if (typeof value !== 'string') continue;
    if (SECRET_NAME.test(name) || SECRET_VALUE.test(value.trim())) {
      ctx.addIssue({ code: 'custom', path: [where, name], message: `\`${name}\` looks like a secret: never write it in mandate.yaml; use { from_env: ${name.replace(/[^A-Za-z0-9_]/g, '_').toUpperCase()} }` });
    }
  }
}

const UpstreamSchema = z
  .object({
    command: z.string().min(1).optional().describe('stdio upstream: the program to start (looked up on PATH), e.g. npx or node.'),
    args: z.array(z.string().max(4_096)).max(256).default([]).describe('stdio upstream: its arguments.'),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/), ConfiguredValue)
      .default({})
      .describe('stdio upstream: its environment. It gets only these (plus HOME, PATH, USER and the like), never the whole environment of Mandate. Secrets as { from_env: NAME }.'),
    cwd: z.string().min(1).optional().describe('stdio upstream: its working folder, relative to the workspace (default: the workspace).'),
    url: z.url({ protocol: /^https?$/ }).optional().describe('Streamable HTTP upstream: its MCP endpoint.'),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]{1,128}$/), ConfiguredValue)
      .default({})
      .describe('Streamable HTTP upstream: request headers. Credentials as { from_env: NAME, prefix: "Bearer " }.'),
    side_effects: z
      .record(z.string().min(1).max(128), z.enum(['read', 'write', 'destructive']))
      .default({})
      .describe("A tool's side-effect class, by tool name, where its annotations are wrong or missing (default: readOnlyHint -> read, destructiveHint: false -> write, else destructive)."),
    deadline_ms: positiveInt.max(600_000).optional().describe('Deadline of one tool call (default: limits.default_deadline_ms).'),
    max_output_bytes: positiveInt.max(10_485_760).optional().describe('Largest tool result, as JSON bytes (default: limits.default_max_output_bytes).'),
    expose: z
      .enum(['prefixed', 'transparent'])
      .default(DEFAULTS.upstream.expose)
      .describe(
        'How the agent sees this upstream (ADR-013). prefixed: tools and prompts as <name>_<tool>. transparent: under their own names, descriptions and schemas, byte for byte, as if the agent talked to the upstream itself; names that collide with another upstream (or with Mandate\'s own tools) are refused.',
      ),
    max_concurrency: positiveInt.max(64).default(DEFAULTS.upstream.max_concurrency).describe('Tool calls running at once on this upstream; more wait in a queue.'),
    max_queue: z.number().int().nonnegative().max(10_000).default(DEFAULTS.upstream.max_queue).describe('Calls that may wait for a free slot; beyond it: UPSTREAM_UNAVAILABLE.'),
    start_timeout_ms: positiveInt.max(120_000).default(DEFAULTS.upstream.start_timeout_ms).describe('How long starting (connect, initialize, list tools) may take.'),
    revision: z
      .enum(['auto', '2025-11-25', '2026-07-28'])
      .default('auto')
      .describe(
        'The MCP revision Mandate speaks to this upstream (ADR-027). auto: 2026-07-28 when it answers server/discover, else the 2025 handshake. A date: that revision only, for an upstream whose support of the other is broken.',
      ),
    restart: z
      .object({
        initial_ms: positiveInt.max(60_000).default(DEFAULTS.upstream.restart.initial_ms).describe('Wait before the first restart after a crash or a failed start.'),
        max_ms: positiveInt.max(3_600_000).default(DEFAULTS.upstream.restart.max_ms).describe('The wait doubles with each crash in a row, up to this.'),
      })
      .strict()
      .default(DEFAULTS.upstream.restart)
      .describe('Restart with backoff: an upstream that crashed is started again on the next call once the wait has passed.'),
  })
  .strict()
  .superRefine((u, ctx) => {
    if ((u.command === undefined) === (u.url === undefined)) ctx.addIssue({ code: 'custom', path: [], message: 'give either command (stdio) or url (Streamable HTTP), not both' });
    if (u.url !== undefined && (u.args.length || Object.keys(u.env).length || u.cwd !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'args, env and cwd are for a stdio upstream (command); an HTTP upstream takes headers' });
    }
    if (u.command !== undefined && Object.keys(u.headers).length) ctx.addIssue({ code: 'custom', path: ['headers'], message: 'headers are for an HTTP upstream (url); a stdio upstream takes env' });
    refuseLiteralSecrets(u.env, 'env', ctx);
    refuseLiteralSecrets(u.headers, 'headers', ctx);
  })
  .describe('One upstream MCP server: a stdio command, or a Streamable HTTP url. Each of its pinned tools becomes the capability <name>.<tool>.');

const SqliteStoreSchema = z
  .object({
    kind: z.literal('sqlite').optional().describe('The embedded store (the default when kind is left out).'),
    path: z.string().min(1).default(DEFAULTS.store.path).describe('SQLite file, relative to the workspace.'),
  })
  .strict();

const PostgresStoreSchema = z
  .object({
    kind: z.literal('postgres').describe('PostgreSQL, shared by any number of replicas (ADR-015).'),
    url_env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name (A-Z, 0-9, _)')
      .default(DEFAULTS.postgres.url_env)
      .describe('The environment variable holding the connection URL (postgres://user@host:port/db). The URL is never written in a file.'),
    pool_max: positiveInt.max(200).default(DEFAULTS.postgres.pool_max).describe('Connections per process at most.'),
  })
  .strict();

/** Where the store lives: one SQLite file (default), or PostgreSQL. */
export const StoreSchema = z.union([SqliteStoreSchema, PostgresStoreSchema]);
export type StoreConfig = z.infer<typeof StoreSchema>;

export type UpstreamConfig = z.infer<typeof UpstreamSchema>;

const SigningSchema = z
  .object({
    private_key_file: z.string().min(1).optional().describe('PEM (PKCS#8) Ed25519 private key, relative to the workspace; `mandate init` writes keys/signing.key and keys/signing.pub.'),
    private_key_env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/)
      .optional()
      .describe('Name of the environment variable holding the PEM private key instead of a file.'),
    receipts: z.boolean().default(DEFAULTS.signing.receipts).describe("Sign each decision's receipt (decision id, request hash, verdict, ledger seq and hash) in the answer."),
    checkpoints: z
      .object({
        path: z
          .string()
          .min(1)
          .default(DEFAULTS.signing.checkpoints.path)
          .describe('Where signed checkpoints of the chain head go, as JSON lines: a file if it ends in .jsonl, else a folder (one file per UTC day). Relative to the workspace; put it on append-only storage the ledger host cannot rewrite.'),
        every_events: positiveInt.max(1_000_000).default(DEFAULTS.signing.checkpoints.every_events).describe('Sign a checkpoint once the head has moved this many events.'),
        every_seconds: positiveInt.max(86_400).default(DEFAULTS.signing.checkpoints.every_seconds).describe('... or once this many seconds have passed with new events.'),
      })
      .strict()
      .default(DEFAULTS.signing.checkpoints),
  })
  .strict()
  .refine((s) => (s.private_key_file === undefined) !== (s.private_key_env === undefined), { message: 'set exactly one of private_key_file or private_key_env' })
  .describe('The anchored ledger (ADR-016): an Ed25519 key signs checkpoints of the chain head while serving, and receipts. Absent: nothing is signed.');

export type SigningConfig = z.infer<typeof SigningSchema>;
export type ConfiguredValueConfig = z.infer<typeof ConfiguredValue>;

export const WorkspaceConfigSchema = z
  .object({
    version: z.literal(1).describe('Format version of mandate.yaml; always 1.'),
    store: StoreSchema.default(DEFAULTS.store),
    paths: z
      .object({
        contracts: z.string().min(1).default(DEFAULTS.paths.contracts),
        policies: z.string().min(1).default(DEFAULTS.paths.policies),
        capabilities: z.string().min(1).default(DEFAULTS.paths.capabilities),
        memory: z.string().min(1).default(DEFAULTS.paths.memory),
        tests: z.string().min(1).default(DEFAULTS.paths.tests).describe('Contract tests (*.yaml) that `mandate test` runs.'),
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
    retention: z
      .object({
        policy_inputs_days: z
          .number()
          .int()
          .min(0)
          .max(3_650)
          .default(DEFAULTS.retention.policy_inputs_days)
          .describe("Days the store keeps each decision's policy request input (principal and resource attributes, context, facts) beside the decision, for `mandate policy impact`; the ledger keeps only its hash. 0 keeps none."),
      })
      .strict()
      .default(DEFAULTS.retention),
    tools: z
      .object({
        expose_capabilities: z
          .boolean()
          .default(DEFAULTS.tools.expose_capabilities)
          .describe('Also list each granted capability as its own MCP tool.'),
        mandate_tools: z
          .boolean()
          .default(DEFAULTS.tools.mandate_tools)
          .describe("List Mandate's own six tools (submit_intent, invoke_capability, read_memory, intervene, get_decision, list_capabilities) and its memory resources. false: the agent sees only the upstreams' primitives, e.g. to front one upstream transparently."),
      })
      .strict()
      .default(DEFAULTS.tools),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default(DEFAULTS.log),
    telemetry: z
      .object({
        traces: z.boolean().default(false).describe('true: export OpenTelemetry traces over OTLP/HTTP even when no OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/operations/tracing.md). OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none still turn tracing off.'),
        endpoint: z.url({ protocol: /^https?$/ }).optional().describe('The OTLP/HTTP base URL used when no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (default http://localhost:4318).'),
        record_content: z
          .boolean()
          .default(false)
          .describe("true: a capability's argument values (audit.recordParams) and output (audit.recordOutput) may become span attributes gen_ai.tool.call.arguments and gen_ai.tool.call.result. false: never, whatever the capability says."),
      })
      .strict()
      .default({ traces: false, record_content: false })
      .describe('OpenTelemetry traces (ADR-026): off unless the standard OTEL_* variables name an endpoint or traces is true.'),
    normalizer: NormalizerSchema.optional(),
    http: HttpConfigSchema.default(DEFAULTS.http),
    signing: SigningSchema.optional(),
    upstreams: z
      .record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'an upstream name: lowercase letters, digits and -, starting with a letter'), UpstreamSchema)
      .default({})
      .describe('The gateway: existing MCP servers Mandate fronts. Their tools are governed like any capability once an operator pins them (`mandate upstream pin`).'),
  })
  .strict();

export type WorkspaceConfig = z.infer<typeof WorkspaceConfigSchema>;
