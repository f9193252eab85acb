/** The port's own failures. Adapters translate vendor errors into these; nothing else crosses the port. */
export abstract class EventStoreError extends Error {
  abstract readonly code: string;
}

export class ConcurrencyError extends EventStoreError {
  readonly code = 'concurrency';
  constructor(
    readonly stream: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`stream ${stream}: expected revision ${expected}, actual ${actual}`);
    this.name = 'ConcurrencyError';
  }
}

export class StoreUnavailableError extends EventStoreError {
  readonly code = 'unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export class StoreClosedError extends EventStoreError {
  readonly code = 'closed';
  constructor() {
    super('the event store is closed');
    this.name = 'StoreClosedError';
  }
}

export class InvalidAppendError extends EventStoreError {
  readonly code = 'invalid_append';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAppendError';
  }
}
