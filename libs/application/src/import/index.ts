export * from './import-line';
export * from './import-event-id';
export * from './ledger-writer';
export * from './store-ledger-writer';
export * from './import-ndjson';
