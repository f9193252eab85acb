export * from './relationship-table.projection';
export * from './idempotency.index';
export * from './projection-snapshot';
export * from './live-projection';
