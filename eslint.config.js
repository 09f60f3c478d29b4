// @ts-check
/**
 * ESLint flat config.
 *
 * - TypeScript (src, test, bench, examples, vitest.config.ts): @eslint/js recommended plus
 *   typescript-eslint `recommendedTypeChecked`, with types from tsconfig.json via the project
 *   service. Floating and misused promises are errors: in a process pool an unhandled rejection
 *   is a lost future.
 * - Plain JavaScript (test fixtures, bench and example scripts, this file): @eslint/js
 *   recommended only, without type information.
 *
 * Test files import the built package (`../dist`), so run `npm run build` before linting.
 */
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/**
 * Node.js globals for the plain JavaScript files (`no-undef`). Spelled out here because the
 * `globals` package is not a dependency.
 */
const nodeGlobals = Object.fromEntries(
  [
    'AbortController',
    'AbortSignal',
    'Blob',
    'Buffer',
    'BroadcastChannel',
    'Event',
    'EventTarget',
    'MessageChannel',
    'TextDecoder',
    'TextEncoder',
    'URL',
    'URLSearchParams',
    'clearImmediate',
    'clearInterval',
    'clearTimeout',
    'console',
    'crypto',
    'fetch',
    'global',
    'performance',
    'process',
    'queueMicrotask',
    'setImmediate',
    'setInterval',
    'setTimeout',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', 'coverage/', 'bench/results/']),

  js.configs.recommended,

  {
    name: 'deadpool/all',
    rules: {
      // `try { process.kill(pid, 0) } catch {}` is an idiom here: the process may be gone.
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },

  {
    name: 'deadpool/javascript',
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: nodeGlobals },
  },
  {
    name: 'deadpool/commonjs',
    files: ['**/*.cjs'],
    languageOptions: { globals: { __dirname: 'readonly', __filename: 'readonly' } },
  },

  {
    name: 'deadpool/typescript',
    files: ['**/*.{ts,mts,cts}'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // `async` without `await` is deliberate: it turns a synchronous throw into a rejection.
      '@typescript-eslint/require-await': 'off',
    },
  },

  {
    name: 'deadpool/tests-and-benchmarks',
    files: ['test/**/*.{ts,mts,cts}', 'bench/**/*.{ts,mts,cts}'],
    rules: {
      // Results come back from other processes as `unknown`/`any`; tests poke at them freely.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // `expect(pool.shutdown)`, spies on methods.
      '@typescript-eslint/unbound-method': 'off',
      // Self-contained task functions may call `require(...)` inside the worker (docs/api.md "Tasks").
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
);
