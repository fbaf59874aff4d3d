import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'web/dist/', 'coverage/', 'scratch/', 'scratch-bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // tfjs is reached only through src/compute, so the backend choice stays in one place.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@tensorflow/*'],
              message: 'Import tfjs through src/compute/tf.ts so the backend choice stays in one place.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/compute/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
