// ESLint (flat config): the recommended rules of @eslint/js and typescript-eslint, which the code
// already keeps. Correctness only, no layout rules: formatting stays as it is.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What the admin console (a browser ES module, no bundler) uses of the browser. */
const browserGlobals = Object.fromEntries(
  [
    'window', 'document', 'location', 'history', 'navigator', 'sessionStorage', 'console', 'fetch', 'crypto',
    'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'setTimeout', 'clearTimeout', 'CSS', 'Node',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['node_modules/', '.tap/', 'data/', 'dist/', 'test-artifacts/', 'bench/profiles/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a binding kept on purpose: a rest sibling's dropped fields, a signature's argument.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `let x; ... closures read x ...; x = make()`: late binding for callbacks made before x exists.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
    },
  },
  {
    files: ['src/http/console/public/**/*.js', 'src/rules/**/*.js'],
    languageOptions: { sourceType: 'module', globals: browserGlobals },
  },
);
