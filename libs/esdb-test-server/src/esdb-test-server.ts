import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { StreamsService as StreamsServiceDefinition } from '@eventstore/db-client/generated/streams_grpc_pb';
import { FaultInjector, type InjectedFault } from './faults';
import { InMemoryLog, type AppendOutcome, type ExpectedState } from './in-memory-log';
import { serverFeaturesImplementation, type AdvertisedFeatures } from './server-features-service';
import { StreamsService, type CallCounts } from './streams-service';

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
}

export interface SeedEvent {
  readonly id: string;
  readonly type: string;
  readonly data?: unknown;
}

/**
 * A wire-compatible EventStoreDB stand-in for tests: it speaks the gRPC protocol of `@eventstore/db-client`
 * (ServerFeatures, Streams.Read/Append/BatchAppend) over plain HTTP/2 and keeps events in memory. `stop()` drops
 * every connection the way a crashed node would; `restart()` listens on the same port with the same events.
 */
export class EsdbTestServer {
  readonly log: InMemoryLog;
  private readonly faults = new FaultInjector();
  private readonly streams: StreamsService;
  private server: Server | null = null;
  private boundPort: number;

  private constructor(private readonly options: EsdbTestServerOptions) {
    this.log = new InMemoryLog({ firstPosition: options.firstPosition });
    this.streams = new StreamsService(this.log, { sendCaughtUp: options.sendCaughtUp ?? true }, this.faults);
    this.boundPort = options.port ?? 0;
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

  /** Closes the listener and every open call at once (subscriptions and batch-append streams are dropped). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.streams.dropAll();
    server.forceShutdown();
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
    server.addService(StreamsServiceDefinition, this.streams.implementation());
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
