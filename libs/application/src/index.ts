export * from './clock';
export * from './request-hash';
export * from './write-result';
export * from './inputs';
export * from './ledger-commands';
export * from './ledger-queries';
export * from './audit';
export * from './import';
