import { z } from 'zod';

export const MemorySeedSchema = z
  .object({
    scope: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/),
    records: z.array(
      z
        .object({
          key: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
          sensitivity: z.enum(['standard', 'elevated', 'restricted']),
          value: z.unknown(),
        })
        .strict(),
    ),
    packs: z
      .record(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/), z.array(z.string().regex(/^[A-Za-z0-9._-]{1,128}$/)).min(1).max(100))
      .default({})
      .describe('Named bundles of keys in this scope, read together with read_memory { scope, pack }.'),
  })
  .strict();

export type MemorySeed = z.infer<typeof MemorySeedSchema>;
