import type { DenialReason } from '@ledger/domain';
import { expectedReason, type FleetPlan, type StormDevice } from './fleet';
import { fleetOfDevices, type StormFleet } from './packed-fleet';
import type { Random } from './random';

/** One lookup the media service makes: which users does this device's new event go to? */
export interface Lookup {
  readonly device: StormDevice;
  readonly mediaId: string;
}

export interface CacheAnswer {
  readonly users: readonly string[];
  /** Set when the answer was meant for another request of the same pipeline. */
  readonly mixedUpWith: string | null;
}

/**
 * The deliberately faulty device→users cache of the incident. Requests that arrive together are pipelined;
 * under that concurrency a fraction `faultRate` of them gets the answer meant for another request of the same
 * pipeline, i.e. another device's users. A lone request is always answered correctly. Which requests are
 * mixed up, and with which, depends only on the seed and the order of requests, so a run can be repeated.
 */
export class PipelinedFaultyCache {
  constructor(
    private readonly faultRate: number,
    private readonly random: Random,
  ) {}

  resolve(pipeline: readonly StormDevice[]): CacheAnswer[] {
    return pipeline.map((device, index) => {
      if (pipeline.length > 1 && this.random.chance(this.faultRate)) {
        let other = this.random.below(pipeline.length - 1);
        if (other >= index) other++;
        return { users: [...pipeline[other].authorized], mixedUpWith: pipeline[other].deviceId };
      }
      return { users: [...device.authorized], mixedUpWith: null };
    });
  }
}

/** A thumbnail put in a user's events tab, and what the user then did with it. */
export interface Delivery {
  readonly viewerId: string;
  readonly deviceId: string;
  readonly mediaId: string;
  /** Tapped (the thumbnail enlarged). */
  readonly opened: boolean;
  /** After tapping, played the event video. */
  readonly played: boolean;
  /** Ground truth: may the viewer see this device at storm time? */
  readonly authorized: boolean;
  /** Ground truth: the §2 reason when not authorized. */
  readonly reason: DenialReason | null;
  /** Owner of the device at storm time. */
  readonly ownerId: string | null;
}

export interface StormPlan {
  readonly lookups: number;
  /** Lookups answered with another device's users. */
  readonly mixedUpLookups: number;
  readonly deliveries: readonly Delivery[];
  /** Deliveries to a user not authorized for the device (a mix-up between two devices of one owner is none). */
  readonly wrongDeliveries: number;
}

export interface StormOptions {
  readonly faultRate: number;
  /** Requests pipelined together by the cache client. */
  readonly pipelineDepth: number;
  /** Pending events each device uploads when it comes back online: 1 to this many. */
  readonly maxEventsPerDevice: number;
}

/** Share of delivered thumbnails that are tapped (Wyze: about 1,500 of 13,000), and of those, played. */
export const OPEN_RATE = 0.115;
export const PLAY_RATE = 0.2;

/** What a storm has produced so far. */
export interface StormTally {
  /** Every lookup of the storm, known before the first pipeline is resolved. */
  lookups: number;
  mixedUpLookups: number;
  deliveries: number;
  wrongDeliveries: number;
}

/**
 * The reconnect storm: every online device comes back and uploads its pending events; the media service
 * resolves each event's device to its users through the faulty cache and fills their events tabs; some users
 * tap a thumbnail, some of those play the event video.
 */
export function planStorm(fleet: FleetPlan, options: StormOptions, random: Random): StormPlan {
  const tally: StormTally = { lookups: 0, mixedUpLookups: 0, deliveries: 0, wrongDeliveries: 0 };
  const deliveries: Delivery[] = [];
  for (const pipeline of stormPipelines(fleetOfDevices(fleet.devices), options, random, tally)) deliveries.push(...pipeline);
  return {
    lookups: tally.lookups,
    mixedUpLookups: tally.mixedUpLookups,
    deliveries,
    wrongDeliveries: tally.wrongDeliveries,
  };
}

/**
 * The deliveries of `planStorm`, one cache pipeline at a time, with the same random draws in the same order:
 * a storm of millions of deliveries is served as it is made instead of being held. `tally` is kept current.
 */
export function* stormPipelines(
  fleet: StormFleet,
  options: StormOptions,
  random: Random,
  tally: StormTally,
): Generator<Delivery[]> {
  const cache = new PipelinedFaultyCache(options.faultRate, random);
  // Every device draws its count of pending events before the first lookup is answered.
  const pending = new Uint16Array(fleet.length);
  for (let index = 0; index < fleet.length; index++) {
    if (!fleet.isOnline(index)) continue;
    pending[index] = 1 + random.below(options.maxEventsPerDevice);
    tally.lookups += pending[index];
  }
  let pipeline: Lookup[] = [];
  const resolve = (): Delivery[] => {
    const answers = cache.resolve(pipeline.map((lookup) => lookup.device));
    const deliveries: Delivery[] = [];
    pipeline.forEach(({ device, mediaId }, i) => {
      const answer = answers[i];
      if (answer.mixedUpWith !== null) tally.mixedUpLookups++;
      for (const viewerId of answer.users) {
        const reason = expectedReason(device, viewerId);
        const opened = random.chance(OPEN_RATE);
        const played = opened && random.chance(PLAY_RATE);
        if (reason !== null) tally.wrongDeliveries++;
        deliveries.push({
          viewerId,
          deviceId: device.deviceId,
          mediaId,
          opened,
          played,
          authorized: reason === null,
          reason,
          ownerId: device.owner,
        });
      }
    });
    tally.deliveries += deliveries.length;
    pipeline = [];
    return deliveries;
  };
  for (let index = 0; index < fleet.length; index++) {
    if (pending[index] === 0) continue;
    const device = fleet.device(index);
    for (let e = 0; e < pending[index]; e++) {
      pipeline.push({ device, mediaId: `${device.deviceId}.evt-${e}` });
      if (pipeline.length === options.pipelineDepth) yield resolve();
    }
  }
  if (pipeline.length > 0) yield resolve();
}
