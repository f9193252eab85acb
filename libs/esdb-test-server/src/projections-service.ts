import { status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { Value } from 'google-protobuf/google/protobuf/struct_pb';
import type { IProjectionsServer } from '@eventstore/db-client/generated/projections_grpc_pb';
import {
  CreateResp,
  DisableResp,
  EnableResp,
  ResultResp,
  StateResp,
  StatisticsReq,
  StatisticsResp,
} from '@eventstore/db-client/generated/projections_pb';
import {
  ProjectionConflict,
  ProjectionNotFound,
  type ProjectionSubsystem,
  type ProjectionView,
} from './projections/projection-subsystem';

/** The methods served; the others (Update, Delete, Reset, RestartSubsystem) answer UNIMPLEMENTED. */
export type ServedProjectionMethods = Pick<
  IProjectionsServer,
  'create' | 'enable' | 'disable' | 'statistics' | 'state' | 'result'
>;

/** A request for something EventStoreDB offers and the test server does not run (one-time projections). */
class NotServed extends Error {}

function failure(error: unknown): Partial<ServiceError> {
  if (error instanceof NotServed) return { code: status.UNIMPLEMENTED, details: error.message };
  if (error instanceof ProjectionNotFound) return { code: status.NOT_FOUND, details: error.message };
  if (error instanceof ProjectionConflict) return { code: status.ALREADY_EXISTS, details: error.message };
  return { code: status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

/** Runs `body` and answers with what it returns, or with the error it throws mapped to a gRPC status. */
function unary<Request, Response>(
  body: (request: Request) => Response,
): (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => void {
  return (call, callback) => {
    let response: Response;
    try {
      response = body(call.request);
    } catch (error) {
      callback(failure(error));
      return;
    }
    callback(null, response);
  };
}

function details(view: ProjectionView): StatisticsResp.Details {
  const caughtUp = view.pending === 0;
  const position = view.position === null ? '' : `C:${view.position}/P:${view.position}`;
  return new StatisticsResp.Details()
    .setName(view.name)
    .setEffectivename(view.name)
    .setMode(view.mode)
    .setStatus(view.status)
    .setStatereason(view.stateReason)
    .setPosition(position)
    .setLastcheckpoint(position)
    .setProgress(caughtUp ? 100 : 0)
    .setEventsprocessedafterrestart(String(view.eventsProcessed))
    .setBufferedevents(String(view.pending))
    .setVersion('1')
    .setEpoch('-1')
    .setCoreprocessingtime('0')
    .setCheckpointstatus('');
}

function stateValue(view: ProjectionView): Value {
  return Value.fromJavaScript((view.state ?? {}) as Parameters<typeof Value.fromJavaScript>[0]);
}

/** `event_store.client.projections.Projections` over the test server's projection subsystem. */
export function projectionsImplementation(projections: ProjectionSubsystem): ServedProjectionMethods {
  return {
    create: unary((request) => {
      const options = request.getOptions();
      if (!options?.hasContinuous()) {
        throw new NotServed('the test server runs continuous projections only');
      }
      const continuous = options.getContinuous()!;
      projections.create(continuous.getName(), options.getQuery(), continuous.getEmitEnabled());
      return new CreateResp();
    }),
    enable: unary((request) => {
      projections.enable(request.getOptions()?.getName() ?? '');
      return new EnableResp();
    }),
    disable: unary((request) => {
      const options = request.getOptions();
      projections.disable(options?.getName() ?? '', options?.getWriteCheckpoint() ?? true);
      return new DisableResp();
    }),
    state: unary((request) => {
      const view = projections.view(request.getOptions()?.getName() ?? '');
      return new StateResp().setState(stateValue(view));
    }),
    // Without transformBy a projection's result is its state.
    result: unary((request) => {
      const view = projections.view(request.getOptions()?.getName() ?? '');
      return new ResultResp().setResult(stateValue(view));
    }),
    statistics: (call) => {
      const options = call.request.getOptions();
      let views: ProjectionView[];
      try {
        views =
          options?.getModeCase() === StatisticsReq.Options.ModeCase.NAME
            ? [projections.view(options.getName())]
            : projections.list();
      } catch (error) {
        call.emit('error', failure(error));
        return;
      }
      for (const view of views) call.write(new StatisticsResp().setDetails(details(view)));
      call.end();
    },
  };
}
