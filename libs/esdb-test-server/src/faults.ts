import { Metadata, status, type ServiceError } from '@grpc/grpc-js';

export type FaultableMethod = 'read' | 'append' | 'batchAppend';

/**
 * A failure the server answers with instead of doing the call, the way EventStoreDB reports errors out of band:
 * a gRPC status plus trailers such as `exception: not-leader` or `exception: access-denied`.
 */
export interface InjectedFault {
  readonly method: FaultableMethod;
  readonly code: status;
  readonly details?: string;
  readonly trailers?: Readonly<Record<string, string>>;
  /** How many calls fail; default 1. */
  readonly times?: number;
}

export class FaultInjector {
  private readonly pending: Array<{ fault: InjectedFault; remaining: number }> = [];

  add(fault: InjectedFault): void {
    this.pending.push({ fault, remaining: fault.times ?? 1 });
  }

  clear(): void {
    this.pending.length = 0;
  }

  take(method: FaultableMethod): ServiceError | null {
    const index = this.pending.findIndex((entry) => entry.fault.method === method);
    if (index < 0) return null;
    const entry = this.pending[index];
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.pending.splice(index, 1);
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(entry.fault.trailers ?? {})) metadata.set(key, value);
    const details = entry.fault.details ?? `injected ${status[entry.fault.code]}`;
    return Object.assign(new Error(details), { code: entry.fault.code, details, metadata });
  }
}
