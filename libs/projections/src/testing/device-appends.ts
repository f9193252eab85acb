import { randomUUID } from 'node:crypto';
import { Streams } from '@ledger/domain';
import type { AppendRequest } from '@ledger/event-store';

/** The tests' `occurredAt` and `recordedAt` for device events. */
export const occurredAt = '2024-02-16T09:00:00.000Z';

/** A device's registration (owner `owner-<deviceId>`) as the API appends it: the first event of its stream. */
export function registration(deviceId: string): AppendRequest {
  return {
    stream: Streams.device(deviceId),
    expectedRevision: 'no_stream',
    events: [
      {
        eventId: randomUUID(),
        type: 'DeviceRegistered',
        data: {
          deviceId,
          ownerId: `owner-${deviceId}`,
          actor: 'svc:test',
          occurredAt,
          recordedAt: occurredAt,
        },
      },
    ],
  };
}
