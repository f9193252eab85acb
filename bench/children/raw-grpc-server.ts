import * as grpc from '@grpc/grpc-js';
import { LEDGER_SERVICE, loadLedgerPackage } from '@ledger/client';
import { reportReady } from '../lib/node-child';

/**
 * The floor of the gRPC figure: @grpc/grpc-js alone in its own process, serving the ledger's own service
 * definition (so requests are decoded and answers encoded exactly as by the ledger), whose Check handler
 * answers a fixed response of the ledger's shape (argv: the response object) without auth or validation.
 */
async function main(): Promise<void> {
  const answer = JSON.parse(process.argv[2]) as Record<string, unknown>;
  const definition = loadLedgerPackage()[LEDGER_SERVICE] as grpc.ServiceDefinition;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 2 * 1024 * 1024 });
  const unimplemented: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in the baseline' });
  server.addService(definition, {
    Check: ((call, callback) => {
      const request = call.request as { userId?: string };
      callback(null, { ...answer, allowed: typeof request.userId === 'string' });
    }) satisfies grpc.handleUnaryCall<unknown, unknown>,
    CheckBulk: unimplemented,
    Authorize: unimplemented,
    RecordViews: unimplemented,
    GetDeviceAccess: unimplemented,
    Watch: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  process.on('message', (message) => {
    if (message !== 'stop') return;
    server.tryShutdown(() => process.exit(0));
  });
  reportReady({ address: `127.0.0.1:${port}` });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
