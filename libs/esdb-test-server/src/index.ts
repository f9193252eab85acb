export { DEFAULT_MAX_APPEND_SIZE, EsdbTestServer, startEsdbTestServer } from './esdb-test-server';
export type { EsdbTestServerOptions, SeedEvent } from './esdb-test-server';
export type { AdvertisedFeatures } from './server-features-service';
export type { FaultableMethod, InjectedFault } from './faults';
export { InMemoryLog, StoredEvent, StreamState, TOMBSTONE_REVISION_TEXT } from './in-memory-log';
export type { AppendOutcome, DeleteOutcome, ExpectedState, ProposedEvent } from './in-memory-log';
export type { CallCounts } from './streams-service';
export { sizeOnDisk } from './streams-service';
