import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { LedgerCommands, LedgerQueries } from '@ledger/application';
import { LEDGER_SERVICE, loadLedgerPackage, PROTO_LOADER_OPTIONS } from '@ledger/client';
import type { ApiKeyConfig, LedgerConfig } from '@ledger/config';
import { ApiKeyRegistry } from '../auth/api-key-registry';
import { API_KEYS } from '../auth/api-key.guard';
import { MAX_BODY_BYTES } from '../http/body-limits';
import { LEDGER_CONFIG } from '../ledger.providers';
import { LedgerMetrics } from '../metrics/ledger-metrics';
import { BulkIngestGate } from '../views/bulk-ingest-gate';
import { HEARTBEAT_MS, RelationshipFeed } from '../watch/relationship-feed.service';
import { LedgerGrpcService } from './ledger-grpc.service';

/** Answers can be larger than requests (a device with many viewers, 1000 bulk results). */
const MAX_SEND_BYTES = 8 * MAX_BODY_BYTES;
const SHUTDOWN_GRACE_MS = 2000;

/**
 * The gRPC API beside HTTP, on its own port (GRPC_PORT; no server when unset). Serves the ledger service,
 * the standard health service (grpc.health.v1) and server reflection, so grpcurl and load balancers work
 * against it without the .proto in hand.
 */
@Injectable()
export class LedgerGrpcServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('LedgerGrpc');
  private server: grpc.Server | null = null;
  private service: LedgerGrpcService | null = null;
  private health: HealthImplementation | null = null;
  /** The bound port once listening (GRPC_PORT=0 picks one); null when the gRPC API is off. */
  port: number | null = null;

  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(API_KEYS) private readonly apiKeys: readonly ApiKeyConfig[],
    private readonly queries: LedgerQueries,
    private readonly commands: LedgerCommands,
    private readonly feed: RelationshipFeed,
    private readonly metrics: LedgerMetrics,
    private readonly bulkIngest: BulkIngestGate,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.grpcPort === null) return;
    const ledgerPackage = loadLedgerPackage();
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_BODY_BYTES,
      'grpc.max_send_message_length': MAX_SEND_BYTES,
    });
    this.service = new LedgerGrpcService({
      queries: this.queries,
      commands: this.commands,
      feed: this.feed,
      metrics: this.metrics,
      keys: new ApiKeyRegistry(this.apiKeys),
      bulkIngest: this.bulkIngest,
      heartbeatMs: HEARTBEAT_MS,
      onUnexpected: (method, error) =>
        this.logger.error(
          `${method}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        ),
    });
    const definition = ledgerPackage[LEDGER_SERVICE] as grpc.ServiceDefinition;
    server.addService(definition, this.service.handlers());
    this.health = new HealthImplementation({ '': 'SERVING', [LEDGER_SERVICE]: 'SERVING' });
    this.health.addToServer(server);
    const healthPackage = protoLoader.loadSync(healthProtoPath, PROTO_LOADER_OPTIONS);
    new ReflectionService({ ...ledgerPackage, ...healthPackage }).addToServer(server);
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${host}:${this.config.grpcPort}`,
        grpc.ServerCredentials.createInsecure(),
        (error, port) =>
          error
            ? reject(
                new Error(
                  `gRPC server could not listen on GRPC_PORT ${this.config.grpcPort}: ${error.message}`,
                ),
              )
            : resolve(port),
      ),
    );
    this.server = server;
  }

  /** Stops taking calls, ends Watch streams, lets unary calls finish (bounded), before the store closes. */
  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.health?.setStatus('', 'NOT_SERVING');
    this.health?.setStatus(LEDGER_SERVICE, 'NOT_SERVING');
    this.service?.endStreams();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
