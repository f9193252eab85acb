// EventStoreDB suite (`npm run test:esdb`): the shared event store contract and the EventStoreDB adapter's own
// tests against EventStoreDB, plus the API end-to-end tests (*.e2e-spec.ts) with the service on EventStoreDB.
// When EVENTSTORE_CONNECTION_STRING is set (e.g. esdb://localhost:2113?tls=false) that server is used;
// otherwise the global setup starts the in-process wire-compatible test server and exports its connection
// string to every test. Tests that must restart or reconfigure a server start private test servers.
const swc = ['@swc/jest', require('./test/support/swc-options')];
const moduleNameMapper = {
  '^@ledger/event-store/testing$': '<rootDir>/libs/event-store/src/testing',
  '^@ledger/([a-z-]+)$': '<rootDir>/libs/$1/src',
};
module.exports = {
  displayName: 'esdb',
  rootDir: __dirname,
  // See jest.config.js: content-disposition (under @fastify/static) ships ESM only.
  transform: { '^.+\\.ts$': swc, '/node_modules/content-disposition/.+\\.js$': swc },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  // The API suites assert that a refused request appends nothing by comparing the shared server's head, so
  // test files must not write to it at the same time.
  maxWorkers: 1,
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testEnvironment: 'node',
  testTimeout: 120000,
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: [
    '<rootDir>/libs/event-store/src/esdb/**/*.int-spec.ts',
    '<rootDir>/libs/esdb-test-server/**/*.int-spec.ts',
    '**/*.e2e-spec.ts',
  ],
  globalSetup: '<rootDir>/libs/esdb-test-server/src/testing/global-setup.ts',
  globalTeardown: '<rootDir>/libs/esdb-test-server/src/testing/global-teardown.ts',
};
