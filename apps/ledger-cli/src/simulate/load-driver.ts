import { LedgerClient, type AuthorizeResponse, type View } from '@ledger/client';
import { formatTime, type MediaType, type Millis, type ViewAction } from '@ledger/domain';
import type { FleetPlan } from './fleet';
import { exposureKey, ViewKeySet, type InjectedExposure } from './ground-truth';
import { keepAliveFetch } from './keep-alive-fetch';
import { runPool } from './pool';
import { PackedFleet } from './packed-fleet';
import { seededRandom, type Random } from './random';
import { stormPipelines, type Delivery, type StormTally } from './storm';

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
  /** The log's head once the fleet is in: the verification layer's checks demand at least it. */
  readonly fleetToken: string;
  /** HTTP connections to the ledger. */
  readonly concurrency: number;
  /** Storm chunks (up to `batchSize` deliveries each) served at once. */
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
  /** Views the verification layer decided on (one per view a service would have asked about). */
  readonly calls: number;
  /** Of those, how many it decided through POST /v1/media/authorize (every refusal, and only those). */
  readonly authorizeCalls: number;
  readonly bulkChecks: number;
  readonly allowed: number;
  readonly exposures: number;
  readonly wrongDenials: number;
  readonly reasonMismatches: number;
  /** Event ids of the views /v1/media/authorize allowed (and recorded). */
  readonly allowedEventIds: readonly string[];
  /** `keyHash`es of the views it allowed by bulk check and recorded through POST /v1/views/batch. */
  readonly allowedViewKeys: Float64Array;
  readonly samples: readonly string[];
  readonly durationMs: number;
}

export interface LoadOutcome {
  readonly counts: FleetPlan['counts'];
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

const FAULTY_SERVICE = 'media-cache-svc';
const VERIFIED_SERVICE = 'media-verified-svc';

/**
 * The fleet a request describes, packed, and the random state its storm continues from: a pure function of the
 * seed, the same fleet the import file was written from.
 */
export function planLoad(request: LoadRequest): { fleet: PackedFleet; random: Random } {
  const random = seededRandom(request.seed);
  const fleet = PackedFleet.plan(
    { devices: request.devices, users: request.users, now: request.now, idPrefix: request.idPrefix },
    random,
  );
  return { fleet, random };
}

/**
 * Serves the storm over HTTP, both ways at once, chunk by chunk as the storm is made: each chunk's deliveries
 * go to the faulty media service and to the verification layer, a few chunks in flight. Which deliveries the
 * storm makes depends only on the seed (they are drawn in order, whatever the network does).
 */
export async function driveLoad(request: LoadRequest, progress: ProgressSink): Promise<LoadOutcome> {
  const { fleet, random } = planLoad(request);
  const http = keepAliveFetch(request.concurrency);
  try {
    const client = new LedgerClient({
      baseUrl: request.baseUrl,
      apiKey: request.apiKey,
      retries: 0,
      fetch: http.fetch,
    });
    const tally: StormTally = { lookups: 0, mixedUpLookups: 0, deliveries: 0, wrongDeliveries: 0 };
    const pipelines = stormPipelines(
      fleet,
      {
        faultRate: request.faultRate,
        pipelineDepth: request.pipelineDepth,
        maxEventsPerDevice: request.maxEventsPerDevice,
      },
      random,
      tally,
    );
    const chunks = chunked(pipelines, request.batchSize);
    const faulty = new FaultyMediaService(client, request.batchSize);
    const verified = new VerifiedMediaService(client, request.fleetToken, request.batchSize);
    const stormStartedAt = Date.now();
    let served = 0;
    const serveChunks = async (): Promise<void> => {
      for (;;) {
        const next = chunks.next();
        if (next.done) return;
        const deliveries = next.value;
        await Promise.all([faulty.serve(deliveries), verified.serve(deliveries)]);
        served += deliveries.length;
        progress('faulty-service', served, Math.max(served, tally.deliveries));
        progress('verified-service', served, Math.max(served, tally.deliveries));
      }
    };
    const failures = await Promise.allSettled(
      Array.from({ length: Math.max(1, request.batchConcurrency) }, serveChunks),
    );
    const failed = failures.find((outcome) => outcome.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const stormMs = Date.now() - stormStartedAt;
    return {
      counts: fleet.counts,
      stormStartedAt,
      stormMs,
      lookups: tally.lookups,
      mixedUpLookups: tally.mixedUpLookups,
      deliveries: tally.deliveries,
      wrongDeliveries: tally.wrongDeliveries,
      faulty: faulty.outcome(stormMs),
      verified: verified.outcome(stormMs),
    };
  } finally {
    http.close();
  }
}

/** Regroups the storm's pipelines into chunks of `size` deliveries (the last may be smaller). */
function* chunked(pipelines: Iterator<Delivery[]>, size: number): Generator<Delivery[]> {
  let chunk: Delivery[] = [];
  for (let next = pipelines.next(); !next.done; next = pipelines.next()) {
    for (const delivery of next.value) {
      chunk.push(delivery);
      if (chunk.length === size) {
        yield chunk;
        chunk = [];
      }
    }
  }
  if (chunk.length > 0) yield chunk;
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
function servedViews(delivery: Delivery): ServedView[] {
  const views: ServedView[] = [{ delivery, mediaType: 'thumbnail', action: 'delivered', afterMs: 0 }];
  if (delivery.opened) views.push({ delivery, mediaType: 'thumbnail', action: 'opened', afterMs: 1 });
  if (delivery.played) views.push({ delivery, mediaType: 'event_video', action: 'played', afterMs: 2 });
  return views;
}

/** Sends views in batches of at most `batchSize`, one after another, checking that each was stored whole. */
async function recordInBatches(client: LedgerClient, views: View[], batchSize: number): Promise<void> {
  for (let start = 0; start < views.length; start += batchSize) {
    const batch = views.slice(start, start + batchSize);
    const answer = await client.recordViews(batch);
    if (answer.count !== batch.length) throw new Error(`views/batch stored ${answer.count} of ${batch.length}`);
  }
}

/**
 * The incident's media service: it trusts whatever the cache said and serves; it reports what it served to
 * the ledger in batches (POST /v1/views/batch). The simulator notes every view it knows was wrong.
 */
class FaultyMediaService {
  private readonly injected: Array<readonly [string, InjectedExposure]> = [];
  private recorded = 0;

  constructor(
    private readonly client: LedgerClient,
    private readonly batchSize: number,
  ) {}

  async serve(deliveries: readonly Delivery[]): Promise<void> {
    const at = Date.now();
    const views: View[] = [];
    for (const delivery of deliveries) {
      for (const { mediaType, action, afterMs } of servedViews(delivery)) {
        const view: View = {
          viewerId: delivery.viewerId,
          deviceId: delivery.deviceId,
          mediaId: delivery.mediaId,
          mediaType,
          action,
          occurredAt: formatTime(at + afterMs),
          servedBy: FAULTY_SERVICE,
        };
        views.push(view);
        if (delivery.reason === null) continue;
        this.injected.push([
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
    await recordInBatches(this.client, views, this.batchSize);
    this.recorded += views.length;
  }

  outcome(durationMs: number): FaultyServiceOutcome {
    return { viewsRecorded: this.recorded, injected: this.injected, durationMs };
  }
}

/**
 * The fixed media service: the same faulty cache decides where media would go, but nothing is served before
 * the ledger says the viewer may see the device. It asks in bulk — one POST /v1/check/bulk per chunk of
 * deliveries, at least at the fleet's token, which is the head of the log during the storm — serves what is
 * allowed (the tap and the play too: nothing changes between them) and records it through POST
 * /v1/views/batch with the check's token as its decisionToken. Every refusal goes through
 * /v1/media/authorize, which puts it on the record with its reason; a refused thumbnail is never seen, so it
 * is never tapped either. The ground truth is compared with each answer exactly as it was with one authorize
 * per view.
 */
class VerifiedMediaService {
  private readonly allowedEventIds: string[] = [];
  private readonly allowedViewKeys = new ViewKeySet();
  private readonly samples: string[] = [];
  private calls = 0;
  private authorizeCalls = 0;
  private bulkChecks = 0;
  private allowed = 0;
  private exposures = 0;
  private wrongDenials = 0;
  private reasonMismatches = 0;

  constructor(
    private readonly client: LedgerClient,
    private readonly fleetToken: string,
    private readonly batchSize: number,
  ) {}

  async serve(deliveries: readonly Delivery[]): Promise<void> {
    const answer = await this.client.checkBulk({
      items: deliveries.map((d) => ({ userId: d.viewerId, deviceId: d.deviceId })),
      atLeast: this.fleetToken,
    });
    this.bulkChecks++;
    if (answer.results.length !== deliveries.length)
      throw new Error(`check/bulk answered ${answer.results.length} of ${deliveries.length} items`);
    const at = Date.now();
    const views: View[] = [];
    const refused: Delivery[] = [];
    deliveries.forEach((delivery, index) => {
      const result = answer.results[index];
      if (result.userId !== delivery.viewerId || result.deviceId !== delivery.deviceId)
        throw new Error(`check/bulk answered item ${index} for ${result.userId} on ${result.deviceId}`);
      if (!result.allowed) {
        refused.push(delivery);
        return;
      }
      for (const { mediaType, action, afterMs } of servedViews(delivery)) {
        const view: View = {
          viewerId: delivery.viewerId,
          deviceId: delivery.deviceId,
          mediaId: delivery.mediaId,
          mediaType,
          action,
          occurredAt: formatTime(at + afterMs),
          servedBy: VERIFIED_SERVICE,
          decisionToken: answer.token,
        };
        views.push(view);
        this.allowedViewKeys.add(exposureKey(view));
        this.decided(delivery, true, null);
      }
    });
    await Promise.all([
      recordInBatches(this.client, views, this.batchSize),
      runPool(refused.length, 16, async (index) => this.authorizeChain(refused[index])),
    ]);
  }

  /** What a refused delivery gets: /v1/media/authorize for each view, stopping at the first refusal. */
  private async authorizeChain(delivery: Delivery): Promise<void> {
    if (
      (await this.authorize(delivery, 'thumbnail', 'delivered')) &&
      delivery.opened &&
      (await this.authorize(delivery, 'thumbnail', 'opened')) &&
      delivery.played
    ) {
      await this.authorize(delivery, 'event_video', 'played');
    }
  }

  private async authorize(delivery: Delivery, mediaType: MediaType, action: ViewAction): Promise<boolean> {
    const answer: AuthorizeResponse = await this.client.authorize({
      viewerId: delivery.viewerId,
      deviceId: delivery.deviceId,
      mediaId: delivery.mediaId,
      mediaType,
      action,
      servedBy: VERIFIED_SERVICE,
    });
    this.authorizeCalls++;
    if (answer.allowed) {
      this.allowedEventIds.push(answer.eventId);
      if (delivery.authorized && action === 'delivered') {
        // The bulk check refused someone entitled, whom authorize then let in: still a wrong denial.
        this.wrongDenials++;
        this.note(`check/bulk refused ${delivery.viewerId} on ${delivery.deviceId}, authorize allowed`);
      }
    }
    this.decided(delivery, answer.allowed, answer.allowed ? null : answer.reason);
    return answer.allowed;
  }

  private decided(delivery: Delivery, allowed: boolean, reason: string | null): void {
    this.calls++;
    if (allowed) {
      this.allowed++;
      if (!delivery.authorized) {
        this.exposures++;
        this.note(`verification layer allowed ${delivery.viewerId} on ${delivery.deviceId}`);
      }
    } else if (delivery.authorized) {
      this.wrongDenials++;
      this.note(`verification layer denied ${delivery.viewerId} on ${delivery.deviceId} (${reason})`);
    } else if (reason !== delivery.reason) {
      this.reasonMismatches++;
      this.note(
        `authorize said ${reason} for ${delivery.viewerId} on ${delivery.deviceId}, truth ${delivery.reason}`,
      );
    }
  }

  private note(line: string): void {
    if (this.samples.length < 5) this.samples.push(line);
  }

  outcome(durationMs: number): VerifiedServiceOutcome {
    return {
      calls: this.calls,
      authorizeCalls: this.authorizeCalls,
      bulkChecks: this.bulkChecks,
      allowed: this.allowed,
      exposures: this.exposures,
      wrongDenials: this.wrongDenials,
      reasonMismatches: this.reasonMismatches,
      allowedEventIds: this.allowedEventIds,
      allowedViewKeys: this.allowedViewKeys.toArray(),
      samples: this.samples,
      durationMs,
    };
  }
}
