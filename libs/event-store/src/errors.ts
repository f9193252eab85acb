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
  readonly code: string = 'invalid_append';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAppendError';
  }
}

/**
 * An append larger than the store's maximum append size (EventStoreDB's `--max-append-size`). Nothing of it is
 * written. `sizeBytes` is the append measured as EventStoreDB measures it (null when only the server knew).
 */
export class AppendTooLargeError extends InvalidAppendError {
  override readonly code = 'append_too_large';
  constructor(
    readonly stream: string,
    readonly limitBytes: number,
    readonly sizeBytes: number | null,
  ) {
    super(
      `append to ${stream}: ${sizeBytes === null ? 'larger than' : `${sizeBytes} bytes, over`} the event ` +
        `store's maximum append size of ${limitBytes} bytes`,
    );
    this.name = 'AppendTooLargeError';
  }
}
