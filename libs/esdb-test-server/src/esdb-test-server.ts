import { randomUUID } from 'node:crypto';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { ProjectionsService as ProjectionsServiceDefinition } from '@eventstore/db-client/generated/projections_grpc_pb';
import { FaultInjector, type InjectedFault } from './faults';
import { InMemoryLog, type AppendOutcome, type ExpectedState } from './in-memory-log';
import { ProjectionSubsystem } from './projections/projection-subsystem';
import { projectionsImplementation } from './projections-service';
import { serverFeaturesImplementation, type AdvertisedFeatures } from './server-features-service';
import { StreamsService, streamsServiceDefinition, type CallCounts } from './streams-service';

export interface EsdbTestServerOptions {
  /** 0 or omitted: a free port, kept across restarts. */
  readonly port?: number;
  readonly host?: string;
  /** Which append path the client will take; default `batch-append`. */
  readonly features?: AdvertisedFeatures;
  /** Send `caught_up` when a subscription reaches the head (servers ≥ 23.10 do); default true. */
  readonly sendCaughtUp?: boolean;
  /** Position of the first event; default 4096. */
  readonly firstPosition?: number;
  /** Version reported by GetSupportedMethods. */
  readonly serverVersion?: string;
  /** Bytes one append may hold (EventStoreDB's `--max-append-size`); default 1 MiB, as on a real node. */
  readonly maxAppendSize?: number;
  /** Milliseconds since the epoch, for `created` and `$maxAge`; default Date.now. */
  readonly clock?: () => number;
  /** Start with the system events a fresh node already has in `$all`; default true. */
  readonly systemEvents?: boolean;
}

/** EventStoreDB's default `--max-append-size`. */
export const DEFAULT_MAX_APPEND_SIZE = 1024 * 1024;

export interface SeedEvent {
  readonly id: string;
  readonly type: string;
  readonly data?: unknown;
}

/**
 * A wire-compatible EventStoreDB stand-in for tests: it speaks the gRPC protocol of `@eventstore/db-client`
 * (ServerFeatures, Streams.Read/Append/BatchAppend/Delete/Tombstone, and the Projections calls of
 * projections-service.ts) over plain HTTP/2 and keeps events in memory. `stop()` drops
 * every connection the way a crashed node would; `restart()` listens on the same port with the same events.
 */
export class EsdbTestServer {
  readonly log: InMemoryLog;
  /** The projections subsystem: system projections (stopped until enabled) and user JavaScript projections. */
  readonly projections: ProjectionSubsystem;
  private readonly faults = new FaultInjector();
  private readonly streams: StreamsService;
  private server: Server | null = null;
  private boundPort: number;

  private constructor(private readonly options: EsdbTestServerOptions) {
    this.log = new InMemoryLog({ firstPosition: options.firstPosition, clock: options.clock });
    const maxAppendSize = options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE;
    if (!Number.isInteger(maxAppendSize) || maxAppendSize < 1)
      throw new RangeError(`maxAppendSize must be a positive integer of bytes, got ${maxAppendSize}`);
    this.streams = new StreamsService(
      this.log,
      { sendCaughtUp: options.sendCaughtUp ?? true, maxAppendSize },
      this.faults,
    );
    this.boundPort = options.port ?? 0;
    if (options.systemEvents ?? true) this.seedSystemEvents();
    this.projections = new ProjectionSubsystem(this.log);
  }

  /**
   * What a fresh single insecure node writes before any client: its epoch record, the metadata of the scavenge
   * and statistics streams, and a first statistics event. Reads and subscriptions from the start of `$all`
   * see them before anything a client appended.
   */
  private seedSystemEvents(): void {
    const node = `${this.host}:${this.options.port || 2113}`;
    this.seed('$epoch-information', [
      {
        id: randomUUID(),
        type: '$epoch-information',
        data: { epochNumber: 0, epochPosition: 0, prevEpochPosition: -1, epochId: randomUUID() },
      },
    ]);
    this.seed('$$$scavenges', [{ id: randomUUID(), type: '$metadata', data: { $maxAge: 2_592_000 } }]);
    this.seed(`$$$stats-${node}`, [{ id: randomUUID(), type: '$metadata', data: { $maxAge: 86_400 } }]);
    this.seed(`$stats-${node}`, [
      { id: randomUUID(), type: '$statsCollected', data: { 'proc-startTime': new Date().toISOString() } },
    ]);
  }

  static async start(options: EsdbTestServerOptions = {}): Promise<EsdbTestServer> {
    const server = new EsdbTestServer(options);
    await server.listen();
    return server;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionString(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `esdb://${host}:${this.port}?tls=false`;
  }

  /** Calls answered so far (across restarts). */
  get calls(): Readonly<CallCounts> {
    return { ...this.streams.counts };
  }

  get running(): boolean {
    return this.server !== null;
  }

  /** Makes the next call(s) of a method fail with a gRPC error, as a failing EventStoreDB node would. */
  injectFault(fault: InjectedFault): void {
    this.faults.add(fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Writes events straight into the log (e.g. system events a real server would have), bypassing gRPC. */
  seed(
    stream: string,
    events: readonly SeedEvent[],
    expected: ExpectedState = { kind: 'any' },
  ): AppendOutcome {
    return this.log.append(
      stream,
      expected,
      events.map((event) => ({
        id: event.id,
        type: event.type,
        contentType: 'application/json',
        data: Buffer.from(JSON.stringify(event.data ?? {}), 'utf8'),
        metadata: new Uint8Array(0),
      })),
    );
  }

  /**
   * Closes the listener and every open call at once, the way a stopping node does: open calls end with
   * UNAVAILABLE (clients reconnect), then the connections are closed.
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.streams.dropAll();
    // A graceful shutdown lets the UNAVAILABLE statuses reach the clients (a forced one resets the streams,
    // which clients report as CANCELLED); connections still open shortly after are closed by force.
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 250);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  /** Listens again on the same port, with the same events. */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }

  private async listen(): Promise<void> {
    const server = new Server({ 'grpc.max_receive_message_length': 32 * 1024 * 1024 });
    server.addService(
      ServerFeaturesService,
      serverFeaturesImplementation(
        this.options.features ?? 'batch-append',
        this.options.serverVersion ?? '24.10.0',
      ),
    );
    server.addService(streamsServiceDefinition, this.streams.implementation());
    server.addService(ProjectionsServiceDefinition, projectionsImplementation(this.projections));
    const address = `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.boundPort}`;
    // The port of a server that was just force-closed can take a moment to be free again.
    for (let attempt = 0; ; attempt++) {
      try {
        this.boundPort = await new Promise<number>((resolve, reject) =>
          server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) =>
            error ? reject(error) : resolve(port),
          ),
        );
        break;
      } catch (error) {
        if (attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    this.server = server;
  }
}

export async function startEsdbTestServer(options: EsdbTestServerOptions = {}): Promise<EsdbTestServer> {
  return EsdbTestServer.start(options);
}
