import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  applyPackedChange,
  formatTime,
  judgePacked,
  newPackedTimeline,
  ownerAtPacked,
  PackedChangeKind,
  type PackedChange,
  type PackedTimeline,
} from '@ledger/domain';
import type { Exposure } from '../incident-report';
import type { ReplayQuery } from '../replay-request';
import {
  actionOf,
  allocRecords,
  mediaTypeOf,
  NO_KEY,
  OWNERSHIP_RECORD_BYTES,
  REGISTERED_KIND,
  VIEW_RECORD_BYTES,
  type RecordArrays,
} from './column-layout';
import type { ColumnsView } from './view-columns';

/** Records read per `read(2)`: a chunk of views is 1.5 MB, so memory stays flat whatever the log. */
const CHUNK_RECORDS = 65_536;

const CHANGE_NAMES: Record<number, string> = {
  [PackedChangeKind.Granted]: 'AccessGranted',
  [PackedChangeKind.Revoked]: 'AccessRevoked',
  [PackedChangeKind.Transferred]: 'OwnershipTransferred',
  [PackedChangeKind.Decommissioned]: 'DeviceDecommissioned',
};

export interface ColumnJudgement {
  readonly viewsExamined: number;
  /** Exposures in log order, with their times (epoch ms) beside them. */
  readonly found: Exposure[];
  readonly times: number[];
}

/** Which keys an id filter lets through, or null for every key. */
function keyFilter(ids: readonly string[], wanted: ReadonlySet<string> | null): Uint8Array | null {
  if (wanted === null) return null;
  const pass = new Uint8Array(ids.length);
  for (let key = 0; key < ids.length; key++) if (wanted.has(ids[key])) pass[key] = 1;
  return pass;
}

/** Reads `count` records of `bytes` each from `fd` at record `first`, into `into` (which holds enough). */
function readRecords(
  fd: number,
  into: RecordArrays,
  recordBytes: number,
  first: number,
  count: number,
): void {
  const length = count * recordBytes;
  for (let done = 0; done < length;) {
    const n = fs.readSync(fd, into.bytes, done, length - done, first * recordBytes + done);
    if (n <= 0) throw new Error('a column file is shorter than its checkpoint says');
    done += n;
  }
}

/**
 * The two passes of the replay over the views projection instead of the log: ownership changes folded into
 * packed §2 timelines keyed by the projection's interned ids (through `applyPackedChange`, the one
 * implementation of §2), then every view judged with `judgePacked`. The same decisions as the log path, in
 * the same order: it reads the same events, each already reduced to the fields the replay uses.
 */
export function judgeFromColumns(columns: ColumnsView, query: ReplayQuery): ColumnJudgement {
  const ids = columns.ids;
  const deviceFilter = keyFilter(ids, query.deviceIds);
  const viewerFilter = keyFilter(ids, query.viewerIds);
  const timelines: Array<PackedTimeline | undefined> = new Array<PackedTimeline | undefined>(ids.length);

  const change: PackedChange = {
    kind: PackedChangeKind.Granted,
    at: 0,
    user: -1,
    previousOwner: -1,
    expiresAt: Infinity,
    keepViewers: false,
  };
  const ownership = allocRecords(OWNERSHIP_RECORD_BYTES, CHUNK_RECORDS);
  const ownershipFd = fs.openSync(path.join(columns.dir, 'ownership.bin'), 'r');
  try {
    for (let first = 0; first < columns.ownershipChanges; first += CHUNK_RECORDS) {
      const count = Math.min(CHUNK_RECORDS, columns.ownershipChanges - first);
      readRecords(ownershipFd, ownership, OWNERSHIP_RECORD_BYTES, first, count);
      const { f64, u32, u8 } = ownership;
      for (let i = 0; i < count; i++) {
        const device = u32[i * 8 + 4];
        if (deviceFilter !== null && deviceFilter[device] === 0) continue;
        const kind = u8[i * 32 + 28];
        const at = f64[i * 4];
        const user = u32[i * 8 + 5];
        const current = timelines[device];
        if (kind === REGISTERED_KIND) {
          // A second registration changes nothing, as in `applyDeviceEvent`.
          if (current === undefined) timelines[device] = newPackedTimeline(user, at);
          continue;
        }
        if (current === undefined)
          throw new Error(`${CHANGE_NAMES[kind]} for unregistered device ${ids[device]}`);
        change.kind = kind as PackedChangeKind;
        change.at = at;
        change.user = user === NO_KEY ? -1 : user;
        const previous = u32[i * 8 + 6];
        change.previousOwner = previous === NO_KEY ? -1 : previous;
        change.expiresAt = f64[i * 4 + 1];
        change.keepViewers = u8[i * 32 + 29] === 1;
        const next = applyPackedChange(current, change);
        if (next !== current) timelines[device] = next;
      }
    }
  } finally {
    fs.closeSync(ownershipFd);
  }

  const { fromMs, toMs } = query;
  const found: Exposure[] = [];
  const times: number[] = [];
  let viewsExamined = 0;
  const views = allocRecords(VIEW_RECORD_BYTES, CHUNK_RECORDS);
  let text = Buffer.allocUnsafe(1 << 20);
  let textAt = 0;
  const viewsFd = fs.openSync(path.join(columns.dir, 'views.bin'), 'r');
  const textFd = fs.openSync(path.join(columns.dir, 'view-text.bin'), 'r');
  try {
    for (let first = 0; first < columns.views; first += CHUNK_RECORDS) {
      const count = Math.min(CHUNK_RECORDS, columns.views - first);
      readRecords(viewsFd, views, VIEW_RECORD_BYTES, first, count);
      const { f64, u32, u16, u8 } = views;
      let textBytes = 0;
      for (let i = 0; i < count; i++) textBytes += u16[i * 12 + 8] + u16[i * 12 + 9];
      // The chunk's text is read only when the chunk holds an exposure; most chunks' views are all allowed.
      let textRead = false;
      let offset = 0;
      for (let i = 0; i < count; i++) {
        const eventIdBytes = u16[i * 12 + 8];
        const mediaIdBytes = u16[i * 12 + 9];
        const at = f64[i * 3];
        const textOffset = offset;
        offset += eventIdBytes + mediaIdBytes;
        // NaN fails both comparisons, so an unreadable time is never examined.
        if (!(at >= fromMs && at < toMs)) continue;
        const device = u32[i * 6 + 2];
        const viewer = u32[i * 6 + 3];
        if (deviceFilter !== null && deviceFilter[device] === 0) continue;
        if (viewerFilter !== null && viewerFilter[viewer] === 0) continue;
        viewsExamined++;
        const timeline = timelines[device];
        const judgement = judgePacked(timeline, viewer, at);
        if (judgement.allowed) continue;
        if (!textRead) {
          if (text.length < textBytes) text = Buffer.allocUnsafe(textBytes);
          for (let done = 0; done < textBytes;) {
            const n = fs.readSync(textFd, text, done, textBytes - done, textAt + done);
            if (n <= 0) throw new Error('view-text.bin is shorter than its checkpoint says');
            done += n;
          }
          textRead = true;
        }
        const owner = ownerAtPacked(timeline, at);
        times.push(at);
        found.push({
          eventId: text.toString('utf8', textOffset, textOffset + eventIdBytes),
          occurredAt: formatTime(at),
          viewerId: ids[viewer],
          deviceId: ids[device],
          ownerId: owner < 0 ? null : ids[owner],
          mediaId: text.toString('utf8', textOffset + eventIdBytes, textOffset + eventIdBytes + mediaIdBytes),
          mediaType: mediaTypeOf(u8[i * 24 + 20]),
          action: actionOf(u8[i * 24 + 21]),
          reason: judgement.reason,
        });
      }
      textAt += textBytes;
    }
  } finally {
    fs.closeSync(viewsFd);
    fs.closeSync(textFd);
  }
  return { viewsExamined, found, times };
}
