// `node --import ./scripts/clients/resolve.mjs <script>` (Node >= 22.15):
// a bare import that the importing file's own node_modules cannot resolve
// (e.g. `ai` from examples/vercel-ai/agent.mjs) is resolved from
// .cache/clients, where scripts/test-clients.ts installs the clients pinned in
// scripts/clients/. The examples stay plain code and run where they are.
import { registerHooks } from 'node:module';
import { URL } from 'node:url';

const prefix = new URL('../../.cache/clients/package.json', import.meta.url).href;
const bare = (specifier) => !/^(node:|data:|file:|\.{0,2}\/)/.test(specifier);

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !bare(specifier)) throw err;
      return nextResolve(specifier, { ...context, parentURL: prefix });
    }
  },
});
