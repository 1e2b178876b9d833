// Lint run by `npm test` (scripts/lint.mjs): typescript-eslint's type-aware rules where a type
// checker finds real bugs (promises nobody awaits, `any` leaking into typed code), its
// recommended rules elsewhere, and nothing about layout: Prettier owns formatting.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/migrations/**', '.test-output/**', '.data/**', 'coverage/**'] },
  js.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['apps/manager/drizzle.config.ts'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // It misjudges assertions over generic drizzle tables (its autofix broke tsc's build there).
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Async functions that implement an async interface (in-memory stores, stubs) need no await.
      '@typescript-eslint/require-await': 'off',
      // `_` names what a destructuring drops on purpose (e.g. a secret left out of a response).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests read untyped JSON bodies and assert on them: there `any` is the input the assertions
    // check, not a leak into typed code (the test kit included). Unawaited promises stay an error everywhere.
    files: ['**/*.spec.ts', '**/*.spec.tsx', '**/test/**/*.ts', '**/test/**/*.tsx', 'libs/test-kit/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
        AbortController: 'readonly',
        performance: 'readonly',
        module: 'writable',
        require: 'readonly',
        __dirname: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
        setImmediate: 'readonly',
      },
    },
  },
  {
    rules: {
      // Header and credential checks match control characters on purpose (CR/LF injection, NUL).
      'no-control-regex': 'off',
    },
  },
  {
    // TypeScript files use the typescript-eslint version (it knows parameter properties and signatures).
    files: ['**/*.mjs', '**/*.js'],
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }] },
  },
  prettier,
);
