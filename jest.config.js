// Unit tests (*.spec.ts) are fast and pure; integration tests (*.int-spec.ts, *.e2e-spec.ts) start real
// stores and servers on temporary data dirs. `npm test` runs both.
const swc = ['@swc/jest', require('./test/support/swc-options')];
const moduleNameMapper = {
  '^@ledger/event-store/testing$': '<rootDir>/libs/event-store/src/testing',
  '^@ledger/([a-z-]+)$': '<rootDir>/libs/$1/src',
};
const common = {
  rootDir: __dirname,
  // content-disposition (under @fastify/static, which serves the OpenAPI UI) ships ESM only; jest on Node 20
  // cannot require ESM, so that one package is transpiled too.
  transform: { '^.+\\.ts$': swc, '/node_modules/content-disposition/.+\\.js$': swc },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testEnvironment: 'node',
  testTimeout: 60000,
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['**/*.spec.ts'] },
    { ...common, displayName: 'integration', testMatch: ['**/*.int-spec.ts', '**/*.e2e-spec.ts'] },
  ],
  testTimeout: 60000,
};
