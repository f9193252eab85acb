import { Streams } from '@ledger/domain';
import type { JsonObject, RecordedEvent } from '@ledger/event-store';
import { IDEMPOTENCY_METADATA_KEY } from '@ledger/projections';

/** The business time the snapshot tests' histories start at. */
export const SNAPSHOT_HISTORY_T0 = Date.UTC(2024, 1, 16, 9, 0, 0);

/**
 * A small log for snapshot tests: devices and users with multi-byte names (so a read step can end inside a
 * UTF-8 character), grants, an expiring grant, revocations, transfers with and without viewers, a
 * decommissioning, and Idempotency-Keys carried by some of the writes (recorded at T0 + minutes).
 */
export function snapshotTestHistory(): RecordedEvent[] {
  const at = (minutes: number): string => new Date(SNAPSHOT_HISTORY_T0 + minutes * 60_000).toISOString();
  const events: RecordedEvent[] = [];
  const push = (type: string, deviceId: string, minutes: number, data: JsonObject, key?: string): void => {
    const position = events.length + 1;
    events.push({
      eventId: `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`,
      stream: Streams.device(deviceId),
      revision: 0n,
      type,
      data: { deviceId, actor: 'svc:test', occurredAt: at(minutes), recordedAt: at(minutes), ...data },
      metadata: key
        ? {
            [IDEMPOTENCY_METADATA_KEY]: {
              scope: `svc:${key}`,
              requestHash: `hash-${key}`,
              status: 201,
              body: { deviceId, note: 'ü📷' },
            },
          }
        : {},
      position: { commit: BigInt(position), prepare: BigInt(position) },
    });
  };
  for (let d = 0; d < 40; d++) {
    const cam = `kamera-ü-${d}-📷`;
    push('DeviceRegistered', cam, d, { ownerId: `benutzer-ß-${d}` }, d % 4 === 0 ? `reg-${d}-ß` : undefined);
    push('AccessGranted', cam, d + 1, { userId: `zuschauer-é-${d % 7}` });
    if (d % 3 === 0) push('AccessRevoked', cam, d + 2, { userId: `zuschauer-é-${d % 7}` });
    if (d % 5 === 1) push('AccessGranted', cam, d + 3, { userId: `gast-${d}`, expiresAt: at(d + 600) });
    if (d % 6 === 2) {
      push('OwnershipTransferred', cam, d + 4, {
        previousOwnerId: `benutzer-ß-${d}`,
        newOwnerId: `zuschauer-é-${d % 7}`,
        keepViewers: d % 12 === 2,
      });
    }
    if (d % 13 === 5) push('DeviceDecommissioned', cam, d + 5, {});
  }
  return events;
}
