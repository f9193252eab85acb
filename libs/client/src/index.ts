export * from './ledger-client';
export * from './ledger-client.errors';
export * from './ledger-client.types';
export * from './decision-cache';
export * from './grpc/ledger-proto';
export * from './grpc/ledger-grpc-client';
