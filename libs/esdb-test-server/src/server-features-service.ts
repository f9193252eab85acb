import { status } from '@grpc/grpc-js';
import type { IServerFeaturesServer } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';

/**
 * What `ServerFeatures.GetSupportedMethods` answers:
 * - `batch-append`: a current server; the client appends through `Streams.BatchAppend`;
 * - `append-only`: the feature list omits BatchAppend; the client uses `Streams.Append`;
 * - `unimplemented`: a server from before the feature list existed (UNIMPLEMENTED); the client uses `Append`.
 */
export type AdvertisedFeatures = 'batch-append' | 'append-only' | 'unimplemented';

const STREAMS = 'event_store.client.streams.Streams';
const SERVER_FEATURES = 'event_store.client.server_features.ServerFeatures';
const PROJECTIONS = 'event_store.client.projections.Projections';
/** The Projections methods projections-service.ts serves. */
const PROJECTION_METHODS = ['Create', 'Enable', 'Disable', 'Statistics', 'State', 'Result'];

export function serverFeaturesImplementation(
  features: AdvertisedFeatures,
  version: string,
): IServerFeaturesServer {
  return {
    getSupportedMethods: (_call, callback) => {
      if (features === 'unimplemented') {
        callback({ code: status.UNIMPLEMENTED, details: 'Method not found' });
        return;
      }
      const methods = new SupportedMethods().setEventStoreServerVersion(version);
      const add = (service: string, method: string): void => {
        methods.addMethods(new SupportedMethod().setServiceName(service).setMethodName(method));
      };
      add(STREAMS, 'Read');
      add(STREAMS, 'Append');
      if (features === 'batch-append') add(STREAMS, 'BatchAppend');
      add(SERVER_FEATURES, 'GetSupportedMethods');
      for (const method of PROJECTION_METHODS) add(PROJECTIONS, method);
      callback(null, methods);
    },
  };
}
