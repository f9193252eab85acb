export * from './ledger-config';
export * from './secret-files';
export * from './api-keys';
