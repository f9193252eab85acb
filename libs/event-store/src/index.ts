export * from './position';
export * from './errors';
export * from './event-store.port';
export * from './open-event-store';
export * from './read-all-pages';
export * from './data-dir-lock';
export * from './read-all-data';
export * from './append-rules';
