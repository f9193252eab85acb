export * from './ids';
export * from './time';
export * from './errors';
export * from './events';
export * from './access-timeline';
export * from './device.decider';
export * from './canonical-json';
export * from './duplicate-keys';
