// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'dist/', 'coverage/', '.exp/', '.deps/'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The console's front end runs in the user's browser.
    files: ['src/console/web/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Runs in the cloud browser, not in Node.
    files: ['src/capture/controller/**/*.js'],
    // Chromium's breakout box, not yet in the `globals` package's browser list.
    languageOptions: { globals: { ...globals.browser, MediaStreamTrackProcessor: 'readonly', MediaStreamTrackGenerator: 'readonly' }, sourceType: 'script' },
  },
);
