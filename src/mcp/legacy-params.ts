/**
 * The params of the 2025-era requests whose handlers server.ts and
 * proxy-primitives.ts register, as the revision defines them (loose: extra members and `_meta`
 * pass). Registered with SDK v2's schema-first form, a request that does not
 * match is answered -32602 naming the problem, before the handler runs
 * (ADR-036); the SDK's method-only form would answer it -32603.
 */
import { z } from 'zod';

const Meta = z.record(z.string(), z.unknown()).optional();

/** tools/list, resources/list, resources/templates/list, prompts/list: a page cursor at most. */
export const ListParams = z.object({ cursor: z.string().optional(), _meta: Meta }).loose();

/** resources/read, resources/subscribe, resources/unsubscribe. */
export const UriParams = z.object({ uri: z.string(), _meta: Meta }).loose();

/** prompts/get. */
export const PromptParams = z.object({ name: z.string(), arguments: z.record(z.string(), z.string()).optional(), _meta: Meta }).loose();

/** completion/complete. */
export const CompleteParamsSchema = z
  .object({
    ref: z.union([z.object({ type: z.literal('ref/prompt'), name: z.string() }).loose(), z.object({ type: z.literal('ref/resource'), uri: z.string() }).loose()]),
    argument: z.object({ name: z.string(), value: z.string() }).loose(),
    context: z.object({ arguments: z.record(z.string(), z.string()).optional() }).loose().optional(),
    _meta: Meta,
  })
  .loose();

/** logging/setLevel. */
export const SetLevelParams = z.object({ level: z.enum(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']), _meta: Meta }).loose();
