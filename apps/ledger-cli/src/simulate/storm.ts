import type { DenialReason } from '@ledger/domain';
import { expectedReason, type FleetDevice, type FleetPlan } from './fleet';
import type { Random } from './random';

/** One lookup the media service makes: which users does this device's new event go to? */
export interface Lookup {
  readonly device: FleetDevice;
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

  resolve(pipeline: readonly FleetDevice[]): CacheAnswer[] {
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

/**
 * The reconnect storm: every online device comes back and uploads its pending events; the media service
 * resolves each event's device to its users through the faulty cache and fills their events tabs; some users
 * tap a thumbnail, some of those play the event video.
 */
export function planStorm(fleet: FleetPlan, options: StormOptions, random: Random): StormPlan {
  const cache = new PipelinedFaultyCache(options.faultRate, random);
  const lookups: Lookup[] = [];
  for (const device of fleet.devices) {
    if (!device.online) continue;
    const events = 1 + random.below(options.maxEventsPerDevice);
    for (let e = 0; e < events; e++) lookups.push({ device, mediaId: `${device.deviceId}.evt-${e}` });
  }
  const deliveries: Delivery[] = [];
  let mixedUpLookups = 0;
  let wrongDeliveries = 0;
  for (let start = 0; start < lookups.length; start += options.pipelineDepth) {
    const pipeline = lookups.slice(start, start + options.pipelineDepth);
    const answers = cache.resolve(pipeline.map((lookup) => lookup.device));
    pipeline.forEach(({ device, mediaId }, i) => {
      const answer = answers[i];
      if (answer.mixedUpWith !== null) mixedUpLookups++;
      for (const viewerId of answer.users) {
        const reason = expectedReason(device, viewerId);
        const opened = random.chance(OPEN_RATE);
        const played = opened && random.chance(PLAY_RATE);
        if (reason !== null) wrongDeliveries++;
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
  }
  return { lookups: lookups.length, mixedUpLookups, deliveries, wrongDeliveries };
}
