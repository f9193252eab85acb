import { randomUUID } from 'node:crypto';
import { Streams, viewShardFor } from '@ledger/domain';
import type { EventStore } from '@ledger/event-store';

const T0 = Date.UTC(2024, 1, 16, 9, 0, 0);

/**
 * Registers `deviceId` to `ownerId` and appends `count` views of it by a thousand viewers, a thousand per
 * append: the shape of a large "who saw my camera" trail.
 */
export async function writeBulkViews(
  store: EventStore,
  options: { deviceId: string; ownerId: string; count: number; onProgress?: (written: number) => void },
): Promise<void> {
  const { deviceId, ownerId, count } = options;
  const registeredAt = new Date(T0).toISOString();
  await store.append({
    stream: Streams.device(deviceId),
    expectedRevision: 'no_stream',
    events: [
      {
        eventId: randomUUID(),
        type: 'DeviceRegistered',
        data: {
          deviceId,
          ownerId,
          actor: 'svc:provisioning',
          occurredAt: registeredAt,
          recordedAt: registeredAt,
        },
      },
    ],
  });
  const stream = Streams.views(viewShardFor(deviceId));
  for (let written = 0; written < count;) {
    const size = Math.min(1000, count - written);
    const events = Array.from({ length: size }, (_, i) => {
      const n = written + i;
      const time = new Date(T0 + 1000 + n * 10).toISOString();
      return {
        eventId: randomUUID(),
        type: 'MediaViewed',
        data: {
          viewerId: `viewer-${n % 1000}`,
          deviceId,
          mediaId: `clip-${n}`,
          mediaType: n % 3 === 0 ? 'event_video' : 'thumbnail',
          action: n % 2 === 0 ? 'delivered' : 'opened',
          servedBy: 'cdn-eu-1',
          occurredAt: time,
          recordedAt: time,
        },
      };
    });
    await store.append({ stream, expectedRevision: 'any', events });
    written += size;
    options.onProgress?.(written);
  }
}
