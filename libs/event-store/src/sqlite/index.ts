export { SqliteEventStore, type GroupCommitInfo, type SqliteEventStoreOptions } from './sqlite-event-store';
export { backupSqliteLog, type BackupProgress } from './backup';
