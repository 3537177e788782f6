// Lint rules that enforce the pipeline's import direction (see ADR-001):
// stages depend on core types only; only the composition root wires stores.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'templates/**', '.tmp/**', 'examples/**', 'bench/results/**'] },
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
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*/**', '!../core/**'], message: 'core depends on nothing else in src/' }] }],
    },
  },
  {
    files: ['src/kernel/**/*.ts', 'src/policy/**/*.ts', 'src/capabilities/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../mcp/**', '../cli/**', '../runtime.js', '@modelcontextprotocol/*'], message: 'the kernel knows no transport or CLI' }] }],
    },
  },
  {
    files: ['src/store/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../kernel/**', '../mcp/**', '../cli/**', '../policy/**'], message: 'the store knows nothing of the pipeline' }] }],
    },
  },
  {
    files: ['scripts/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
