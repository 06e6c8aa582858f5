// @ts-check
// ESLint flat config. typescript-eslint loads the `typescript` package for its parser; that name is
// TypeScript 6 (npm alias to @typescript/typescript6) because TypeScript 7 has no JS API, while
// node_modules/.bin/tsc is TypeScript 7 (alias @ts7/typescript). See tools/check-typescript.mjs.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier/flat';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const SHELL_MESSAGE = 'http/ and cli/ are shells: call a domain function (see CONTRIBUTING.md), never the database';
const STATEMENT_MESSAGE = 'SQL is declared once with statement() in its domain (src/db/statement.ts), so the suite can prepare every query';

/** `x.query('…')` or `x.query(`…`)`: SQL written inline instead of declared once in its domain. */
const inlineSql = {
  selector: "CallExpression[callee.property.name='query'][arguments.0.type=/^(Literal|TemplateLiteral)$/]",
  message: STATEMENT_MESSAGE,
};

/**
 * Our database modules (a relative import through a db/ folder), pg, drizzle-orm and its subpaths.
 * Slashes are written [/] so that the same text works as a RegExp and inside an esquery /regex/.
 */
const DB_MODULE = String.raw`^(pg|drizzle-orm)([/]|$)|^[.]{1,2}[/](.*[/])?db[/]`;

export default defineConfig(
  {
    ignores: ['node_modules/', 'var/', 'migrations/'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      // Unused names starting with _ are deliberate (placeholders, ignored tuple elements).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // chai's property assertions (`expect(x).to.be.true`, `.and.not.empty`) are statements by design.
  {
    files: ['test/**'],
    rules: { '@typescript-eslint/no-unused-expressions': 'off' },
  },
  // The engine logs through src/log.ts; only the CLI talks to the terminal.
  {
    files: ['src/**'],
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  // SQL lives in its domain's statements, declared once.
  {
    files: ['src/**'],
    ignores: ['src/db/**'],
    rules: { 'no-restricted-syntax': ['error', inlineSql] },
  },
  // http/ and cli/ are thin shells: no database layer, no SQL. (This replaces the block above for
  // these folders: any .query() call is forbidden here, inline SQL or not.)
  {
    files: ['src/http/**', 'src/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ regex: DB_MODULE, message: SHELL_MESSAGE }],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='query']", message: SHELL_MESSAGE },
        { selector: 'MemberExpression[property.name=/^(pool|database)$/]', message: SHELL_MESSAGE },
        { selector: 'ObjectPattern > Property[key.name=/^(pool|database)$/]', message: SHELL_MESSAGE },
        { selector: `ImportExpression[source.value=/${DB_MODULE}/]`, message: SHELL_MESSAGE },
      ],
    },
  },
  // Last, so that it switches off every stylistic rule that would fight Prettier.
  prettier,
);
