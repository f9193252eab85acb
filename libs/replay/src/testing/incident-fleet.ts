import type { MediaType, Millis, ViewAction } from '@ledger/domain';
import { HistoryBuilder } from './history-builder';

export interface FleetOptions {
  readonly devices?: number;
  /** Unauthorized views during the incident. */
  readonly leakedViews?: number;
  readonly seed?: number;
  /** Start of the day's history; the incident starts 40 minutes later and lasts `incidentMinutes`. */
  readonly start?: Millis;
  readonly incidentMinutes?: number;
}

/** Small deterministic PRNG (mulberry32): the same seed, the same fleet. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A camera fleet with a Wyze-like incident: owners and shares, ordinary authorized views all morning, then
 * a reconnect storm in which a mixed-up cache sends thumbnails to strangers (some tap them, a few play the
 * event video), plus the ordinary stragglers (revoked, expired, transferred, decommissioned, unregistered).
 */
export function incidentFleet(options: FleetOptions = {}): HistoryBuilder {
  const devices = Math.max(options.devices ?? 40, 8); // the stragglers below use cam-001 … cam-005
  const leaked = options.leakedViews ?? 300;
  const next = random(options.seed ?? 7);
  const start = options.start ?? Date.UTC(2024, 1, 16, 9, 0, 0);
  const incidentMinutes = options.incidentMinutes ?? 45;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const minute = 60_000;
  const h = new HistoryBuilder();
  const owners = Array.from({ length: devices }, (_, i) => `user-${(i * 7) % devices}`);
  const cameras = Array.from({ length: devices }, (_, i) => `cam-${String(i).padStart(3, '0')}`);
  const shares = new Map<string, string[]>();
  cameras.forEach((cam, i) => {
    h.register(cam, owners[i], start - 30 * 24 * 60 * minute + i * minute);
    if (i % 3 === 0) {
      const viewer = `user-${(i * 7 + 1) % devices}`;
      if (viewer !== owners[i]) {
        h.grant(cam, viewer, start - 24 * 60 * minute + i * minute);
        shares.set(cam, [viewer]);
      }
    }
  });
  // Stragglers with each reason.
  h.grant('cam-001', 'user-guest', start + 5 * minute, start + 20 * minute);
  h.view('user-guest', 'cam-001', start + 25 * minute, { action: 'opened' });
  h.grant('cam-002', 'user-ex', start + 5 * minute);
  h.revoke('cam-002', 'user-ex', start + 10 * minute);
  h.view('user-ex', 'cam-002', start + 12 * minute, { mediaType: 'event_video', action: 'played' });
  h.transfer('cam-004', owners[4], 'user-buyer', start + 15 * minute);
  h.view(owners[4], 'cam-004', start + 16 * minute, { action: 'delivered' });
  h.decommission('cam-005', start + 20 * minute);
  h.view(owners[5], 'cam-005', start + 21 * minute, { action: 'delivered' });
  h.view('user-0', 'cam-999', start + 30 * minute, { action: 'delivered' });

  // Ordinary authorized traffic before, during and after the incident.
  for (let k = 0; k < devices * 4; k++) {
    const i = Math.floor(next() * devices);
    const cam = cameras[i];
    if (cam === 'cam-004' || cam === 'cam-005') continue;
    const viewer = next() < 0.8 ? owners[i] : (shares.get(cam)?.[0] ?? owners[i]);
    h.view(viewer, cam, start + Math.floor(next() * 120 * minute), {
      action: pick(['delivered', 'opened'] as const),
    });
  }
  // The incident: a burst that peaks early and decays.
  const incidentStart = start + 40 * minute;
  for (let k = 0; k < leaked; k++) {
    const offset = Math.floor(incidentMinutes * minute * Math.pow(next(), 1.8));
    const i = Math.floor(next() * devices);
    if (cameras[i] === 'cam-004' || cameras[i] === 'cam-005') continue;
    let viewer = `user-${Math.floor(next() * devices * 3)}`;
    if (viewer === owners[i] || shares.get(cameras[i])?.includes(viewer)) viewer = `user-x${k}`;
    const roll = next();
    const action: ViewAction = roll < 0.85 ? 'delivered' : roll < 0.97 ? 'opened' : 'played';
    const mediaType: MediaType =
      action === 'played' ? pick(['event_video', 'live_stream'] as const) : 'thumbnail';
    h.view(viewer, cameras[i], incidentStart + offset, { action, mediaType, mediaId: `evt-${k}` });
  }
  return h;
}
