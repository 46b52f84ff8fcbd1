import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'node_modules/', '.cache/', 'media/vendor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        window: 'readonly',
        document: 'readonly',
        acquireVsCodeApi: 'readonly',
        setImmediate: 'readonly',
        queueMicrotask: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-require-imports': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['src/torrent/**', 'src/engine/**', 'src/catalog/**', 'src/tracker/**', 'src/models/**', 'src/shared/**'],
    rules: {
      // The core runs headless too: only src/extension.ts and src/ui may use the editor API.
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'The core never imports vscode.' }] }],
    },
  },
  {
    files: ['src/cli/**', 'src/ui/**', 'src/cli.ts', 'src/extension.ts'],
    rules: {
      // The faces (the `silmaril` command, the editor) call only the application layer: each workflow is written
      // once, in src/app (docs/architecture.md).
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/catalog/*',
                '**/engine/*',
                '**/torrent/*',
                '**/tracker/*',
                '**/models/*',
                '**/shared/*',
                // The one formatter (sizes, rates, times) is for every face: pure functions, no core state.
                '!**/shared/format.js',
                '../node.js',
                './node.js',
              ],
              message: 'The CLI and the editor reach the core only through src/app.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/engine/internals.ts'],
    rules: {
      // A dependency's private members (`x._name`) are touched only in its fenced file src/engine/internals.ts,
      // against an exactly pinned version, with a test that fails when one goes away (docs/architecture.md).
      // Our own per-object marks are spelled `__silmarilX` and stay allowed.
      'no-restricted-syntax': [
        'error',
        {
          selector: 'MemberExpression[computed=false][property.name=/^_[^_]/]',
          message: "A dependency's private member: go through its fence in src/engine/internals.ts.",
        },
        {
          selector: 'MemberExpression[computed=true][property.value=/^_[^_]/]',
          message: "A dependency's private member: go through its fence in src/engine/internals.ts.",
        },
      ],
    },
  },
);
