// ESLint for the project's own JavaScript (`npm run lint`, the `js-lint` tier of scripts/test.mjs).
// Every file is an ES module; the globals follow where each one runs.
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    // Built, installed or downloaded, not ours: the wasm-pack output, Cargo's output
    // and the benchmark peers (installed and bundled by `npm run bench`).
    ignores: ['pkg/', 'target/', 'bench/peers/', 'test-results/', 'artifacts/'],
  },
  js.configs.recommended,
  {
    languageOptions: { ecmaVersion: 'latest', sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `const { secret, ...rest } = x` is how the code drops a member from a copy.
      'no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // Runs in the page: the SDK's own JS (wasm-bindgen snippets and the shipped wrappers),
    // the demo, and the pages the e2e, provider and bench runs load.
    files: ['js/**', 'www/**', 'tests/e2e/pages/**', 'tests/e2e/support/page*.js', 'tests/provider/site/**', 'scripts/bench-page/**'],
    languageOptions: { globals: globals.browser },
  },
  {
    // Runs in Node: the build/test/bench scripts and the test drivers.
    files: ['scripts/**/*.mjs', 'tests/**/*.mjs', 'eslint.config.mjs'],
    languageOptions: { globals: globals.node },
  },
  {
    // The test drivers also hand functions to the page (playwright's page.evaluate):
    // those bodies run in the browser and read window, document, localStorage...
    files: ['tests/**/*.mjs', 'scripts/bench.mjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  {
    // ...and in the e2e pages those bodies use window.T, the in-page helpers of
    // tests/e2e/support/page-helpers.js, by its bare name.
    files: ['tests/e2e/**/*.mjs'],
    languageOptions: { globals: { T: 'readonly' } },
  },
];
