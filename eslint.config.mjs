import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-throw-literal': 'error',
      eqeqeq: ['error', 'always'],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@eventstore/db-client', message: 'Only the EventStoreDB adapter may import the vendor client.' },
            { name: 'better-sqlite3', message: 'Only the embedded adapter may import better-sqlite3.' },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/event-store/src/sqlite/**', 'libs/event-store/src/esdb/**', 'libs/esdb-test-server/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Raw HTTP answers in tests are deliberately untyped: the tests assert their shape.
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', '**/*.int-spec.ts', 'test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['libs/domain/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@nestjs/*', '@ledger/*', 'better-sqlite3', '@eventstore/*', 'rxjs'] },
      ],
    },
  },
);
