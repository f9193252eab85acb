import { takeSharedServer } from './shared-server';

export default async function globalTeardown(): Promise<void> {
  const server = takeSharedServer();
  if (!server) return;
  await server.stop();
  delete process.env.EVENTSTORE_CONNECTION_STRING;
  delete process.env.ESDB_TEST_SERVER;
}
