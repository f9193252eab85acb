import { randomUUID } from 'node:crypto';
import { Streams, viewShardFor, type MediaType, type ViewAction } from '@ledger/domain';
import type { EventStore, ExpectedRevision, JsonObject } from '@ledger/event-store';

/** Business time `second` seconds after 2024-02-16T09:00:00Z, in the output form. */
export const at = (second: number): string =>
  new Date(Date.UTC(2024, 1, 16, 9, 0, 0) + second * 1000).toISOString();

/**
 * Writes a ledger history straight into a store, event by event, the way the service lays it out (device
 * streams with optimistic concurrency, views in shards, audit events in `ledger-audit`). The domain rules are
 * the caller's business here: tests state histories that are valid under §2.
 */
export class LedgerHistory {
  private readonly revisions = new Map<string, bigint>();
  private clock = 0;

  constructor(readonly store: EventStore) {}

  private recordedAt(): string {
    this.clock++;
    return new Date(Date.UTC(2024, 1, 17, 0, 0, 0) + this.clock).toISOString();
  }

  private async device(deviceId: string, type: string, data: JsonObject): Promise<string> {
    const stream = Streams.device(deviceId);
    const revision = this.revisions.get(stream);
    const expectedRevision: ExpectedRevision = revision === undefined ? 'no_stream' : revision;
    const eventId = randomUUID();
    const result = await this.store.append({
      stream,
      expectedRevision,
      events: [{ eventId, type, data: { deviceId, ...data, recordedAt: this.recordedAt() } }],
    });
    this.revisions.set(stream, result.nextExpectedRevision);
    return eventId;
  }

  register(deviceId: string, ownerId: string, second: number): Promise<string> {
    return this.device(deviceId, 'DeviceRegistered', {
      ownerId,
      actor: 'svc:provisioning',
      occurredAt: at(second),
    });
  }

  grant(
    deviceId: string,
    userId: string,
    second: number,
    extra: { expiresAt?: string; actor?: string } = {},
  ): Promise<string> {
    return this.device(deviceId, 'AccessGranted', {
      userId,
      actor: extra.actor ?? 'owner',
      occurredAt: at(second),
      ...extra,
    });
  }

  revoke(deviceId: string, userId: string, second: number, reason?: string): Promise<string> {
    return this.device(deviceId, 'AccessRevoked', {
      userId,
      actor: 'owner',
      occurredAt: at(second),
      ...(reason === undefined ? {} : { reason }),
    });
  }

  transfer(
    deviceId: string,
    previousOwnerId: string,
    newOwnerId: string,
    second: number,
    keepViewers: boolean,
  ): Promise<string> {
    return this.device(deviceId, 'OwnershipTransferred', {
      previousOwnerId,
      newOwnerId,
      keepViewers,
      actor: 'support:alice',
      occurredAt: at(second),
    });
  }

  decommission(deviceId: string, second: number): Promise<string> {
    return this.device(deviceId, 'DeviceDecommissioned', { actor: 'svc:fleet', occurredAt: at(second) });
  }

  async view(
    viewerId: string,
    deviceId: string,
    second: number,
    options: { denied?: string; mediaType?: MediaType; action?: ViewAction } = {},
  ): Promise<string> {
    const eventId = randomUUID();
    const data: JsonObject = {
      viewerId,
      deviceId,
      mediaId: `m-${deviceId}-${second}`,
      mediaType: options.mediaType ?? 'thumbnail',
      action: options.action ?? 'delivered',
      occurredAt: at(second),
      recordedAt: this.recordedAt(),
      ...(options.denied === undefined ? {} : { reason: options.denied }),
    };
    await this.store.append({
      stream: Streams.views(viewShardFor(deviceId)),
      expectedRevision: 'any',
      events: [{ eventId, type: options.denied === undefined ? 'MediaViewed' : 'MediaAccessDenied', data }],
    });
    return eventId;
  }

  async audit(type: 'AuditTrailExported' | 'IncidentReplayed', data: JsonObject): Promise<string> {
    const eventId = randomUUID();
    await this.store.append({
      stream: Streams.audit,
      expectedRevision: 'any',
      events: [{ eventId, type, data: { actor: 'cli:test', recordedAt: this.recordedAt(), ...data } }],
    });
    return eventId;
  }
}

/** Event ids of the sample history, by name, plus every id in log order. */
export interface SampleHistory {
  readonly ids: Readonly<Record<SampleEvent, string>>;
  readonly log: readonly string[];
}

export type SampleEvent =
  | 'regCam1'
  | 'regCam2'
  | 'regCam10'
  | 'grantBob'
  | 'vBob'
  | 'vAliceDenied'
  | 'vMallory'
  | 'vCam10'
  | 'xferCam1'
  | 'vAtXfer'
  | 'vDave'
  | 'vLateErin'
  | 'grantErin2'
  | 'grantFrank'
  | 'xferKeep'
  | 'decomCam2'
  | 'vAfterDecom'
  | 'auditExport'
  | 'revokeFrank';

/**
 * A small history with every case a trail must get right: shares ended by a transfer (and kept by another),
 * a decommission, views exactly at a transfer instant, a late view dated inside an earlier ownership, a denied
 * access, a device id that is a prefix of another, and the ledger's own audit event.
 */
export async function writeSampleHistory(store: EventStore): Promise<SampleHistory> {
  const h = new LedgerHistory(store);
  const log: string[] = [];
  const ids = {} as Record<SampleEvent, string>;
  const step = async (name: SampleEvent, write: Promise<string>): Promise<void> => {
    ids[name] = await write;
    log.push(ids[name]);
  };
  await step('regCam1', h.register('cam1', 'alice', 10));
  await step('regCam2', h.register('cam2', 'carol', 12));
  await step('regCam10', h.register('cam10', 'alice', 15));
  await step('grantBob', h.grant('cam1', 'bob', 20));
  await step('vBob', h.view('bob', 'cam1', 25, { mediaType: 'event_video', action: 'played' }));
  await step('vAliceDenied', h.view('alice', 'cam2', 26, { denied: 'never_granted' }));
  await step('vMallory', h.view('mallory', 'cam1', 30, { action: 'opened' }));
  await step('vCam10', h.view('zed', 'cam10', 31));
  await step('xferCam1', h.transfer('cam1', 'alice', 'dave', 40, false));
  await step('vAtXfer', h.view('mallory', 'cam1', 40));
  await step('vDave', h.view('dave', 'cam1', 45));
  await step('vLateErin', h.view('erin', 'cam1', 35));
  await step('grantErin2', h.grant('cam2', 'erin', 50, { expiresAt: at(600) }));
  await step('grantFrank', h.grant('cam1', 'frank', 50, { actor: 'dave' }));
  await step('xferKeep', h.transfer('cam1', 'dave', 'gina', 55, true));
  await step('decomCam2', h.decommission('cam2', 60));
  await step('vAfterDecom', h.view('erin', 'cam2', 61, { denied: 'decommissioned' }));
  await step(
    'auditExport',
    h.audit('AuditTrailExported', {
      filter: { userId: 'alice' },
      format: 'ndjson',
      count: 3,
      lastHash: '0'.repeat(64),
    }),
  );
  await step('revokeFrank', h.revoke('cam1', 'frank', 70, 'moved out, "keys" returned\r\nsee ticket #42'));
  return { ids, log };
}
