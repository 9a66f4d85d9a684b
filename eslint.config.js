// The linter `npm test` runs before the type check (`npm run lint` alone). Type-aware rules for what
// the compiler lets through (a promise nobody awaits, a promise where a callback is expected), the
// package graph (no import cycles, no relative paths into another package, every import declared
// in the importing workspace's package.json) and the formatting this tree is written in.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import stylistic from '@stylistic/eslint-plugin';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/** The formatting of this tree (long lines are allowed: one statement reads as one line). */
const formatting = {
  '@stylistic/indent': ['error', 2, { SwitchCase: 1, flatTernaryExpressions: true, offsetTernaryExpressions: true, ignoredNodes: ['TSUnionType', 'TSIntersectionType'] }],
  '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
  '@stylistic/semi': ['error', 'always'],
  '@stylistic/comma-dangle': ['error', 'always-multiline'],
  '@stylistic/arrow-parens': ['error', 'always'],
  '@stylistic/brace-style': ['error', '1tbs', { allowSingleLine: true }],
  '@stylistic/keyword-spacing': 'error',
  '@stylistic/space-before-blocks': 'error',
  '@stylistic/space-infix-ops': 'error',
  '@stylistic/comma-spacing': 'error',
  '@stylistic/key-spacing': 'error',
  '@stylistic/no-trailing-spaces': 'error',
  '@stylistic/eol-last': 'error',
  '@stylistic/no-multiple-empty-lines': ['error', { max: 1, maxEOF: 0 }],
  '@stylistic/no-tabs': 'error',
  '@stylistic/member-delimiter-style': 'error',
  '@stylistic/type-annotation-spacing': 'error',
  '@stylistic/max-len': ['error', { code: 240, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreComments: false }],
};

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/*.d.ts'],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin, 'import-x': importX, '@stylistic': stylistic },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's test() and describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] }],
      '@typescript-eslint/no-misused-promises': 'error',
      'no-control-regex': 'error',
      'import-x/no-cycle': 'error',
      'import-x/no-relative-packages': 'error',
      // src/ imports only what a workspace's dependencies declare; tests and benches may use devDependencies.
      'import-x/no-extraneous-dependencies': ['error', { includeTypes: true, devDependencies: ['**/test/**', '**/bench/**'] }],
      'import-x/no-self-import': 'error',
      'import-x/no-duplicates': 'error',
      ...formatting,
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    plugins: { 'import-x': importX, '@stylistic': stylistic },
    rules: {
      'import-x/no-relative-packages': 'error',
      ...formatting,
    },
  },
);
