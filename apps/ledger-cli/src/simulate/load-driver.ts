import { LedgerClient, type AuthorizeResponse, type View } from '@ledger/client';
import { formatTime, type MediaType, type Millis, type ViewAction } from '@ledger/domain';
import { planFleet, type FleetChange, type FleetDevice, type FleetPlan } from './fleet';
import { exposureKey, type InjectedExposure } from './ground-truth';
import { keepAliveFetch } from './keep-alive-fetch';
import { runPool } from './pool';
import { seededRandom } from './random';
import { planStorm, type Delivery, type StormPlan } from './storm';

export type LoadPhase = 'fleet' | 'faulty-service' | 'verified-service';

/** Everything the load needs; plain data, so it can be handed to a worker thread. */
export interface LoadRequest {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly devices: number;
  readonly users: number;
  readonly faultRate: number;
  readonly seed: number;
  /** Storm time the fleet's history is dated against. */
  readonly now: Millis;
  readonly idPrefix: string;
  readonly concurrency: number;
  readonly batchConcurrency: number;
  readonly batchSize: number;
  readonly pipelineDepth: number;
  readonly maxEventsPerDevice: number;
}

export interface FaultyServiceOutcome {
  readonly viewsRecorded: number;
  /** Ground truth: every view served to someone who may not see the device, by `exposureKey`. */
  readonly injected: ReadonlyArray<readonly [string, InjectedExposure]>;
  readonly durationMs: number;
}

export interface VerifiedServiceOutcome {
  readonly calls: number;
  readonly allowed: number;
  readonly exposures: number;
  readonly wrongDenials: number;
  readonly reasonMismatches: number;
  /** Event ids of the views the verification layer allowed (and recorded). */
  readonly allowedEventIds: readonly string[];
  readonly samples: readonly string[];
  readonly durationMs: number;
}

export interface LoadOutcome {
  readonly counts: FleetPlan['counts'];
  readonly fleetWrites: number;
  readonly fleetMs: number;
  readonly stormStartedAt: Millis;
  readonly stormMs: number;
  readonly lookups: number;
  readonly mixedUpLookups: number;
  readonly deliveries: number;
  readonly wrongDeliveries: number;
  readonly faulty: FaultyServiceOutcome;
  readonly verified: VerifiedServiceOutcome;
}

export type ProgressSink = (phase: LoadPhase, done: number, total: number) => void;

const ACTOR = 'svc:provisioning';
const FAULTY_SERVICE = 'media-cache-svc';
const VERIFIED_SERVICE = 'media-verified-svc';

/** The fleet and the storm a request describes: a pure function of its seed and sizes. */
export function planLoad(request: LoadRequest): { fleet: FleetPlan; storm: StormPlan } {
  const random = seededRandom(request.seed);
  const fleet = planFleet(
    { devices: request.devices, users: request.users, now: request.now, idPrefix: request.idPrefix },
    random,
  );
  const storm = planStorm(
    fleet,
    {
      faultRate: request.faultRate,
      pipelineDepth: request.pipelineDepth,
      maxEventsPerDevice: request.maxEventsPerDevice,
    },
    random,
  );
  return { fleet, storm };
}

/**
 * Drives the ledger over HTTP: writes the fleet (one device's changes in order, many devices at once), then
 * serves the storm both ways at once.
 */
export async function driveLoad(request: LoadRequest, progress: ProgressSink): Promise<LoadOutcome> {
  const { fleet, storm } = planLoad(request);
  const http = keepAliveFetch(request.concurrency + request.batchConcurrency);
  try {
    const client = new LedgerClient({
      baseUrl: request.baseUrl,
      apiKey: request.apiKey,
      retries: 0,
      fetch: http.fetch,
    });
    const fleetStarted = Date.now();
    let fleetWrites = 0;
    const totalChanges = fleet.counts.ownershipChanges;
    progress('fleet', 0, totalChanges);
    await runPool(fleet.devices.length, request.concurrency, async (index) => {
      const device = fleet.devices[index];
      for (const change of device.changes) {
        await writeChange(client, device, change);
        fleetWrites++;
      }
      if (index % 200 === 0) progress('fleet', fleetWrites, totalChanges);
    });
    progress('fleet', fleetWrites, totalChanges);
    const fleetMs = Date.now() - fleetStarted;

    const stormStartedAt = Date.now();
    const [faulty, verified] = await Promise.all([
      serveThroughFaultyCache(client, storm.deliveries, request, progress),
      serveThroughVerificationLayer(client, storm.deliveries, request.concurrency, progress),
    ]);
    return {
      counts: fleet.counts,
      fleetWrites,
      fleetMs,
      stormStartedAt,
      stormMs: Date.now() - stormStartedAt,
      lookups: storm.lookups,
      mixedUpLookups: storm.mixedUpLookups,
      deliveries: storm.deliveries.length,
      wrongDeliveries: storm.wrongDeliveries,
      faulty,
      verified,
    };
  } finally {
    http.close();
  }
}

async function writeChange(client: LedgerClient, device: FleetDevice, change: FleetChange): Promise<void> {
  const deviceId = device.deviceId;
  const occurredAt = formatTime(change.at);
  switch (change.op) {
    case 'register':
      await client.registerDevice({ deviceId, ownerId: change.ownerId, actor: ACTOR, occurredAt });
      return;
    case 'grant':
      await client.grant(deviceId, {
        userId: change.userId,
        actor: ACTOR,
        occurredAt,
        ...(change.expiresAt === undefined ? {} : { expiresAt: formatTime(change.expiresAt) }),
      });
      return;
    case 'revoke':
      await client.revoke(deviceId, { userId: change.userId, actor: ACTOR, occurredAt });
      return;
    case 'transfer':
      await client.transfer(deviceId, {
        newOwnerId: change.newOwnerId,
        keepViewers: change.keepViewers,
        actor: 'support:simulator',
        occurredAt,
      });
      return;
    case 'decommission':
      await client.decommission(deviceId, { actor: ACTOR, occurredAt });
      return;
    default: {
      const unreachable: never = change;
      throw new Error(`unknown change ${JSON.stringify(unreachable)}`);
    }
  }
}

interface ServedView {
  readonly delivery: Delivery;
  readonly mediaType: MediaType;
  readonly action: ViewAction;
  /**
   * Offset from the delivery: the tap and the play come after the thumbnail was shown. A millisecond each, so no
   * view is dated after the run ends: a later run on the same data dir replays a window that starts after it.
   */
  readonly afterMs: number;
}

/** The views a delivery produces: the thumbnail shown, then maybe tapped, then maybe its video played. */
function* servedViews(deliveries: readonly Delivery[]): Generator<ServedView> {
  for (const delivery of deliveries) {
    yield { delivery, mediaType: 'thumbnail', action: 'delivered', afterMs: 0 };
    if (delivery.opened) yield { delivery, mediaType: 'thumbnail', action: 'opened', afterMs: 1 };
    if (delivery.played) yield { delivery, mediaType: 'event_video', action: 'played', afterMs: 2 };
  }
}

/**
 * The incident's media service: it trusts whatever the cache said and serves; it reports what it served to
 * the ledger in batches (POST /v1/views/batch). The simulator notes every view it knows was wrong.
 */
async function serveThroughFaultyCache(
  client: LedgerClient,
  deliveries: readonly Delivery[],
  request: LoadRequest,
  progress: ProgressSink,
): Promise<FaultyServiceOutcome> {
  const started = Date.now();
  const views = servedViews(deliveries);
  const total = deliveries.reduce((n, d) => n + 1 + (d.opened ? 1 : 0) + (d.played ? 1 : 0), 0);
  const injected: Array<readonly [string, InjectedExposure]> = [];
  let recorded = 0;
  let exhausted = false;
  const sendBatches = async (): Promise<void> => {
    while (!exhausted) {
      const at = Date.now();
      const batch: View[] = [];
      while (batch.length < request.batchSize) {
        const next = views.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const { delivery, mediaType, action, afterMs } = next.value;
        const view: View = {
          viewerId: delivery.viewerId,
          deviceId: delivery.deviceId,
          mediaId: delivery.mediaId,
          mediaType,
          action,
          occurredAt: formatTime(at + afterMs),
          servedBy: FAULTY_SERVICE,
        };
        batch.push(view);
        if (delivery.reason !== null) {
          injected.push([
            exposureKey(view),
            {
              viewerId: view.viewerId,
              deviceId: view.deviceId,
              mediaId: view.mediaId,
              mediaType,
              action,
              occurredAt: view.occurredAt,
              reason: delivery.reason,
              ownerId: delivery.ownerId,
            },
          ]);
        }
      }
      if (batch.length === 0) return;
      const answer = await client.recordViews(batch);
      if (answer.count !== batch.length)
        throw new Error(`views/batch stored ${answer.count} of ${batch.length}`);
      recorded += batch.length;
      progress('faulty-service', recorded, total);
    }
  };
  await Promise.all(Array.from({ length: request.batchConcurrency }, sendBatches));
  return { viewsRecorded: recorded, injected, durationMs: Date.now() - started };
}

/**
 * The fixed media service: the same faulty cache decides where media would go, but every delivery, tap and
 * play asks /v1/media/authorize first and is served only when allowed — a refused thumbnail is never seen,
 * so it is never tapped either.
 */
async function serveThroughVerificationLayer(
  client: LedgerClient,
  deliveries: readonly Delivery[],
  concurrency: number,
  progress: ProgressSink,
): Promise<VerifiedServiceOutcome> {
  const started = Date.now();
  const allowedEventIds: string[] = [];
  const samples: string[] = [];
  let calls = 0;
  let allowed = 0;
  let exposures = 0;
  let wrongDenials = 0;
  let reasonMismatches = 0;
  const note = (line: string): void => {
    if (samples.length < 5) samples.push(line);
  };
  const ask = async (delivery: Delivery, mediaType: MediaType, action: ViewAction): Promise<boolean> => {
    const answer: AuthorizeResponse = await client.authorize({
      viewerId: delivery.viewerId,
      deviceId: delivery.deviceId,
      mediaId: delivery.mediaId,
      mediaType,
      action,
      servedBy: VERIFIED_SERVICE,
    });
    calls++;
    if (answer.allowed) {
      allowed++;
      allowedEventIds.push(answer.eventId);
      if (!delivery.authorized) {
        exposures++;
        note(`authorize allowed ${delivery.viewerId} on ${delivery.deviceId}`);
      }
    } else if (delivery.authorized) {
      wrongDenials++;
      note(`authorize denied ${delivery.viewerId} on ${delivery.deviceId} (${answer.reason})`);
    } else if (answer.reason !== delivery.reason) {
      reasonMismatches++;
      note(
        `authorize said ${answer.reason} for ${delivery.viewerId} on ${delivery.deviceId}, truth ${delivery.reason}`,
      );
    }
    return answer.allowed;
  };
  await runPool(deliveries.length, concurrency, async (index) => {
    const delivery = deliveries[index];
    if (
      (await ask(delivery, 'thumbnail', 'delivered')) &&
      delivery.opened &&
      (await ask(delivery, 'thumbnail', 'opened')) &&
      delivery.played
    ) {
      await ask(delivery, 'event_video', 'played');
    }
    if (index % 500 === 0) progress('verified-service', index, deliveries.length);
  });
  progress('verified-service', deliveries.length, deliveries.length);
  return {
    calls,
    allowed,
    exposures,
    wrongDenials,
    reasonMismatches,
    allowedEventIds,
    samples,
    durationMs: Date.now() - started,
  };
}
