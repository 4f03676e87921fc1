// ESLint for every TypeScript source: typescript-eslint's type-checked recommended rules,
// no import cycles, no unused imports or variables. Layout is Prettier's job, not ESLint's.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import unusedImports from 'eslint-plugin-unused-imports';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['**/dist/', 'coverage/', 'data/', 'keys/']),
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['{src,test,scripts,bench,examples,migrations}/**/*.ts', 'packages/verifier/src/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // Each file is checked with the tsconfig.json nearest to it (the root one, or the
      // verifier package's), the same programs `tsc` builds.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX, 'unused-imports': unusedImports },
    settings: {
      // Resolves `./x.js` to `./x.ts`, and @tessera/verifier to its sources through the
      // root tsconfig's `paths`, so a cycle through the workspace package is seen too.
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
      // no-cycle parses every imported file to follow the graph: without these two it
      // cannot read .ts files and silently sees no edges at all.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // unused-imports wraps @typescript-eslint/no-unused-vars and adds an autofix for
      // imports, so `eslint --fix` can remove them; the wrapped rule must be off.
      '@typescript-eslint/no-unused-vars': 'off',
      'unused-imports/no-unused-imports': 'error',
      'unused-imports/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Fastify plugins and hooks are async functions by contract (a plain function must
      // call done() instead), awaiting or not; dropping `async` to please this rule breaks them.
      '@typescript-eslint/require-await': 'off',
      // node:test's test(), describe() and it() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
    },
  },
  {
    // Tests read responses as `res.json()` and `JSON.parse(...)`, typed `any` by design, and
    // assert on them field by field; the assertion, not the type, is the check there.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
