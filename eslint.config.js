// Lint rules that enforce the pipeline's import direction (see ADR-001):
// stages depend on core types only; only the composition root wires stores.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'templates/**', '.tmp/**', 'examples/**', 'bench/results/**', 'conformance/reference-server/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // ADR-018: Cedar's wasm is loaded only through src/policy/cedar.ts, after the V8 guard; type imports are free.
    files: ['**/*.ts'],
    ignores: ['src/policy/cedar.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...['@cedar-policy/cedar-wasm', '@cedar-policy/cedar-wasm/nodejs'].map((name) => ({
              name,
              allowTypeImports: true,
              message: 'import Cedar from src/policy/cedar.ts, which applies the V8 guard first (ADR-018)',
            })),
            // ADR-022: Biscuit's wasm-bindgen module is instantiated only in src/kernel/delegation/token.ts, after the V8 guard.
            { name: '@biscuit-auth/biscuit-wasm', allowTypeImports: true, message: 'use src/kernel/delegation/token.ts, which applies the V8 guard first and loads the bundler build for Node (ADR-022)' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*/**', '!../core/**'], message: 'core depends on nothing else in src/' }] }],
    },
  },
  {
    files: ['src/kernel/**/*.ts', 'src/policy/**/*.ts', 'src/capabilities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../mcp/**', '../cli/**', '../http/**', '../runtime.js', '@modelcontextprotocol/*', 'prom-client', 'jose'], message: 'the kernel knows no transport or CLI' },
            // ADR-008: upstream MCP servers are reached only through capabilities the composition root adds.
            { group: ['../gateway/**'], message: 'the kernel knows no gateway; upstream tools are capabilities' },
            // ADR-006: the kernel reaches a model only through the Normalizer port in src/core.
            { group: ['../normalize/**', 'ollama', 'ollama/*', 'node:http', 'node:https', 'node:net'], message: 'the kernel imports no network code; use the Normalizer port' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/normalize/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../kernel/**', '../store/**', '../policy/**', '../mcp/**', '../cli/**', '../runtime.js'], message: 'the model adapter implements the Normalizer port (src/core) and knows nothing of the pipeline' }] },
      ],
    },
  },
  {
    // ADR-008: the gateway is an MCP client at the edge. It builds capabilities and knows nothing of the pipeline.
    files: ['src/gateway/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../kernel/**', '../policy/**', '../mcp/**', '../cli/**', '../normalize/**', '../runtime.js'], message: 'the gateway builds capabilities; it does not reach into the pipeline or the MCP server adapter' }] },
      ],
    },
  },
  {
    files: ['src/store/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../kernel/**', '../mcp/**', '../cli/**', '../http/**', '../policy/**'], message: 'the store knows nothing of the pipeline' }] }],
    },
  },
  {
    // The HTTP edge translates and routes; it never reaches into the CLI.
    files: ['src/http/**/*.ts', 'src/mcp/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../cli/**'], message: 'transports do not depend on the CLI' }] }],
    },
  },
  {
    // The operator console runs in the browser, as same-origin ES modules.
    files: ['console/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: {
        window: 'readonly', document: 'readonly', sessionStorage: 'readonly', fetch: 'readonly', AbortController: 'readonly',
        TextDecoderStream: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly',
        location: 'readonly', history: 'readonly', URLSearchParams: 'readonly', crypto: 'readonly', TextEncoder: 'readonly', atob: 'readonly',
      },
    },
  },
  {
    // Fixture upstream MCP servers the gateway tests spawn as plain Node scripts.
    files: ['test/fixtures/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', console: 'readonly' } },
  },
  {
    files: ['scripts/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
