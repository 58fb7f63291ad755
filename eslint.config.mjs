// ESLint (flat config), run by `npm run lint` (and so by `npm test` and .ci/run): ESLint's and typescript-eslint's
// recommended rules, for every source file here. Formatting is not linted: the code follows .editorconfig (2 spaces,
// LF, a final newline), and running a formatter over the whole tree would only churn history.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'coverage/', 'bench/results/', '.pulumi-state/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks what is deliberately unused: a parameter an interface requires, or a field taken
      // out of an object by destructuring (`const { secret: _secret, ...rest } = x`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Control characters in patterns are deliberate: they check PVE's rules on what a value may contain
      // (pve-container's config parser, PVE's JSON schema for property strings).
      'no-control-regex': 'off',
    },
  },
  {
    // Tests reach into modules the way the code under test does, including a fresh require() of a module, and probe
    // untyped JSON (stack exports, preview --json, PVE answers) where a type would only restate the assertion.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Plain JavaScript here is CommonJS run by Node: the bin, the scripts (language host, build helpers), Jest's config.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
