import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@ledger/config';
import { DataDirLockedError } from '@ledger/event-store';
import { createLedgerApp } from './create-app';
import { NonBlockingLogDestination } from './logging/non-blocking-log-destination';
import { LedgerGrpcServer } from './grpc/ledger-grpc.server';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Ledger');
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const { app, apiKeys } = await createLedgerApp(config);
  const output = app.get(NonBlockingLogDestination);
  // An exit that is not a signal (an uncaught error, process.exit) still writes what it can of the log.
  process.once('exit', () => output.flushSync());
  await app.listen(config.port, config.host);
  const store = config.eventStoreConnectionString ? 'EventStoreDB' : `embedded SQLite in ${config.dataDir}`;
  logger.log(`ledger listening on http://${config.host}:${config.port} (store: ${store})`);
  const grpcPort = app.get(LedgerGrpcServer).port;
  if (grpcPort !== null)
    logger.log(`gRPC API (ledger.v1.LedgerService) listening on ${config.host}:${grpcPort}`);
  if (apiKeys.generatedAdmin) {
    const { key, file, created } = apiKeys.generatedAdmin;
    // Printed so a newcomer can curl right away; it lives in the data dir with mode 0600.
    output.write(
      `\n${created ? 'Generated' : 'Using'} local admin API key (all scopes, kept in ${file}):\n\n  ${key.key}\n\n` +
        `  curl -H 'Authorization: Bearer ${key.key}' http://localhost:${config.port}/v1/projection\n\n`,
    );
  }
}

bootstrap().catch((error: unknown) => {
  if (error instanceof DataDirLockedError) {
    process.stderr.write(`ledger failed to start: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `ledger failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
