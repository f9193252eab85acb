export { SqliteEventStore, type GroupCommitInfo, type SqliteEventStoreOptions } from './sqlite-event-store';
