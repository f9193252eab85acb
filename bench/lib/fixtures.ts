import { randomUUID } from 'node:crypto';
import {
  applyDeviceEvent,
  decide,
  formatTime,
  Streams,
  viewShardFor,
  type DeviceCommand,
  type DeviceEvent,
  type DeviceState,
  type Millis,
} from '@ledger/domain';
import type { AppendRequest, EventStore, JsonObject, NewEvent, RecordedEvent } from '@ledger/event-store';

/** Business time the fixtures are dated against (all history lies before it). */
export const FIXTURE_NOW: Millis = Date.UTC(2024, 1, 16, 10, 0, 0);
const DAY = 24 * 60 * 60 * 1000;

export const userId = (i: number): string => `user-${String(i).padStart(7, '0')}`;
export const deviceId = (i: number): string => `cam-${String(i).padStart(7, '0')}`;

export interface FleetShape {
  readonly devices: number;
  readonly users: number;
  /** Viewers granted on each device besides its owner. */
  readonly viewersPerDevice: number;
  /** Every n-th device has its first viewer revoked (0: none). */
  readonly revokeEvery: number;
}

export const ownerOf = (device: number, shape: FleetShape): number => (device * 3) % shape.users;
export const viewerOf = (device: number, k: number, shape: FleetShape): number =>
  (device * 3 + 1 + k) % shape.users;

/** Who may see each device once its whole history is applied: `user|device` → role, revoked viewers left out. */
export function currentRoles(shape: FleetShape): Map<string, string> {
  const roles = new Map<string, string>();
  for (let d = 0; d < shape.devices; d++) {
    const device = deviceId(d);
    roles.set(`${userId(ownerOf(d, shape))}|${device}`, 'owner');
    for (let k = 0; k < shape.viewersPerDevice; k++) {
      const revoked = k === 0 && shape.revokeEvery > 0 && d % shape.revokeEvery === 0;
      if (!revoked) roles.set(`${userId(viewerOf(d, k, shape))}|${device}`, 'viewer');
    }
  }
  return roles;
}

/** A device's history, decided by the ledger's own decider (so it is a history the API would accept). */
export function deviceHistory(device: number, shape: FleetShape): DeviceEvent[] {
  const id = deviceId(device);
  const start = FIXTURE_NOW - 30 * DAY + device;
  const base = { deviceId: id, actor: 'svc:bench', recordedAt: FIXTURE_NOW };
  const commands: DeviceCommand[] = [
    { type: 'RegisterDevice', data: { ...base, occurredAt: start, ownerId: userId(ownerOf(device, shape)) } },
  ];
  for (let k = 0; k < shape.viewersPerDevice; k++) {
    commands.push({
      type: 'GrantAccess',
      data: { ...base, occurredAt: start + DAY + k, userId: userId(viewerOf(device, k, shape)) },
    });
  }
  if (shape.revokeEvery > 0 && shape.viewersPerDevice > 0 && device % shape.revokeEvery === 0) {
    commands.push({
      type: 'RevokeAccess',
      data: { ...base, occurredAt: start + 2 * DAY, userId: userId(viewerOf(device, 0, shape)) },
    });
  }
  let state: DeviceState = null;
  const events: DeviceEvent[] = [];
  for (const command of commands) {
    for (const event of decide(command, state)) {
      state = applyDeviceEvent(state, event);
      events.push(event);
    }
  }
  return events;
}

/** A media view as the API stores it: the same fields, shapes and sizes. */
export function viewData(i: number, shape: FleetShape): JsonObject {
  const device = i % shape.devices;
  return {
    viewerId: userId(i % 5 === 0 ? (i * 7) % shape.users : ownerOf(device, shape)),
    deviceId: deviceId(device),
    mediaId: `${deviceId(device)}.evt-${i}`,
    mediaType: 'thumbnail',
    action: i % 9 === 0 ? 'opened' : 'delivered',
    servedBy: 'media-svc-1',
    occurredAt: formatTime(FIXTURE_NOW - DAY + (i % DAY)),
    recordedAt: formatTime(FIXTURE_NOW),
  };
}

/** The same view as a client sends it to POST /v1/views(/batch): the ledger sets `recordedAt` itself. */
export function viewInput(i: number, shape: FleetShape): JsonObject {
  const { recordedAt: _recordedAt, ...input } = viewData(i, shape);
  return input;
}

export function viewEvents(
  from: number,
  count: number,
  shape: FleetShape,
  nextEventId: () => string = randomUUID,
): NewEvent[] {
  const events = new Array<NewEvent>(count);
  for (let k = 0; k < count; k++) {
    events[k] = { eventId: nextEventId(), type: 'MediaViewed', data: viewData(from + k, shape) };
  }
  return events;
}

/**
 * Valid, unique UUIDs that increase in text order: a random prefix per builder, then a counter. A builder of a
 * 10M-event log writes its event-id index at its end instead of at a random page per event, which past the
 * page cache is what made writing a big log take most of an hour.
 */
export function ascendingEventIds(): () => string {
  const prefix = randomUUID().slice(0, 23);
  let next = 0;
  return () => `${prefix}-${(next++).toString(16).padStart(12, '0')}`;
}

/** The stream a batch of views goes to, as `POST /v1/views/batch` picks it. */
export function viewStream(events: readonly NewEvent[]): string {
  return Streams.views(viewShardFor(events[0].data.deviceId as string));
}

async function appendAll(store: EventStore, requests: AppendRequest[]): Promise<void> {
  const results = await store.appendMany(requests);
  const failed = results.find((r): r is Error => r instanceof Error);
  if (failed) throw failed;
}

/**
 * Writes a fleet and its views to a store through the port: each device's history in its stream, then the
 * views in batches of 1000 to the view shards. Returns how many events it wrote.
 */
export async function writeFleetLog(
  store: EventStore,
  shape: FleetShape,
  views: number,
  onProgress: (events: number) => void = () => undefined,
): Promise<{ ownershipEvents: number; views: number }> {
  const nextEventId = ascendingEventIds();
  let ownershipEvents = 0;
  let pending: AppendRequest[] = [];
  for (let d = 0; d < shape.devices; d++) {
    const events = deviceHistory(d, shape).map((event) => ({
      eventId: nextEventId(),
      type: event.type,
      data: event.data as unknown as JsonObject,
    }));
    ownershipEvents += events.length;
    pending.push({ stream: Streams.device(deviceId(d)), expectedRevision: 'no_stream', events });
    if (pending.length === 2000) {
      await appendAll(store, pending);
      pending = [];
      onProgress(ownershipEvents);
    }
  }
  if (pending.length > 0) await appendAll(store, pending);
  pending = [];
  for (let written = 0; written < views;) {
    const count = Math.min(1000, views - written);
    const events = viewEvents(written, count, shape, nextEventId);
    pending.push({ stream: viewStream(events), expectedRevision: 'any', events });
    written += count;
    // 20,000 views a transaction: one fsync per 20k instead of per 10k.
    if (pending.length === 20 || written === views) {
      await appendAll(store, pending);
      pending = [];
      onProgress(ownershipEvents + written);
    }
  }
  return { ownershipEvents, views };
}

/** A device history as the store would hand it to a projection (positions, revisions, parsed data). */
export function recordedHistory(device: number, shape: FleetShape, firstPosition: number): RecordedEvent[] {
  const stream = Streams.device(deviceId(device));
  return deviceHistory(device, shape).map((event, revision) => ({
    eventId: randomUUID(),
    stream,
    revision: BigInt(revision),
    type: event.type,
    // A fresh copy, as JSON.parse of the stored row would give: the projection keeps its own strings.
    data: JSON.parse(JSON.stringify(event.data)) as JsonObject,
    metadata: {},
    position: { commit: BigInt(firstPosition + revision), prepare: BigInt(firstPosition + revision) },
  }));
}
