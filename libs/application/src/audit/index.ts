export * from './heavy-work-gate';
export * from './replay-answer';
export * from './audit-work';
export * from './worker-audit-work';
export * from './audit-service';
