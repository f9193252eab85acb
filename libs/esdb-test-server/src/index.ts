export { EsdbTestServer, startEsdbTestServer } from './esdb-test-server';
export type { EsdbTestServerOptions, SeedEvent } from './esdb-test-server';
export type { AdvertisedFeatures } from './server-features-service';
export type { FaultableMethod, InjectedFault } from './faults';
export { InMemoryLog, StoredEvent, StreamState } from './in-memory-log';
export type { AppendOutcome, ExpectedState, ProposedEvent } from './in-memory-log';
export type { CallCounts } from './streams-service';
