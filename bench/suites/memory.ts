import type { JsonObject, RecordedEvent } from '@ledger/event-store';
import { IDEMPOTENCY_METADATA_KEY, IdempotencyIndex, RelationshipTable } from '@ledger/projections';
import { deviceId, ownerOf, recordedHistory, userId, viewerOf, type FleetShape } from '../lib/fixtures';
import { paired, result } from '../lib/stats';
import type { Suite } from '../lib/types';

/** 250,000 devices with an owner and three viewers each: 1,000,000 (user, device) relationships. */
const SHAPE: FleetShape = { devices: 250_000, users: 500_000, viewersPerDevice: 3, revokeEvery: 0 };
/** The full run's growth point: ten times the fleet, 10,000,000 relationships (one round: it takes minutes). */
const SHAPE_10M: FleetShape = { devices: 2_500_000, users: 5_000_000, viewersPerDevice: 3, revokeEvery: 0 };

/**
 * Heap plus ArrayBuffer backing stores (typed arrays live outside the V8 heap, so heapUsed alone would not
 * see them), after a forced GC.
 */
function settledBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the memory suite needs node --expose-gc');
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

interface Round {
  readonly ours: number;
  readonly theirs: number;
  readonly relationships: number;
}

function measureRound(shape: FleetShape): Round {
  const before = settledBytes();
  let table: RelationshipTable | null = new RelationshipTable();
  let position = 0;
  for (let d = 0; d < shape.devices; d++) {
    for (const event of recordedHistory(d, shape, position)) table.apply(event);
    position += 8;
  }
  const relationships = table.relationshipCount;
  const ours = (settledBytes() - before) / relationships;
  table = null;

  const beforeMap = settledBytes();
  let naive: Map<string, string> | null = new Map<string, string>();
  for (let d = 0; d < shape.devices; d++) {
    naive.set(`${userId(ownerOf(d, shape))}|${deviceId(d)}`, 'owner');
    for (let k = 0; k < shape.viewersPerDevice; k++)
      naive.set(`${userId(viewerOf(d, k, shape))}|${deviceId(d)}`, 'viewer');
  }
  const theirs = (settledBytes() - beforeMap) / naive.size;
  naive = null;
  return { ours, theirs, relationships };
}

/**
 * memory.relationship: bytes per relationship of a RelationshipTable holding 1M (user, device) pairs with
 * their full history, built by applying the log's events (fresh id strings per event, as JSON.parse gives
 * them), against a naive cache: a Map from a "user|device" string to the role. The full run adds
 * memory.relationship.10m, the same at 10M, to show how it grows.
 */
export const memory: Suite = async (context, log) => {
  const rounds = paired();
  let relationships = 0;
  // Bytes per relationship barely move between rounds (a settled heap, not a timing): two rounds in a quick run
  // keep it within its 15-minute budget.
  const roundCount = context.quick ? Math.min(context.rounds, 2) : context.rounds;
  for (let round = 0; round < roundCount; round++) {
    const measured = measureRound(SHAPE);
    relationships = measured.relationships;
    rounds.ours.push(measured.ours);
    rounds.theirs.push(measured.theirs);
    log(
      `round ${round + 1}: ${Math.round(measured.ours)} bytes/relationship, naive Map ${Math.round(measured.theirs)} bytes/entry`,
    );
  }
  const results = [
    result(
      'memory.relationship',
      'bytes/relationship',
      'naive cache: Map<"user|device", role> with the same pairs (current role only, no history)',
      rounds,
      false,
    ),
  ];
  const notes = [
    `memory.relationship: ${relationships.toLocaleString('en-US')} relationships (${SHAPE.devices.toLocaleString('en-US')} devices, ` +
      `owner + ${SHAPE.viewersPerDevice} viewers each), heapUsed + arrayBuffers after global.gc() before and after building.`,
  ];
  if (!context.quick) {
    const measured = measureRound(SHAPE_10M);
    const growth = paired();
    growth.ours.push(measured.ours);
    growth.theirs.push(measured.theirs);
    log(
      `10M: ${Math.round(measured.ours)} bytes/relationship, naive Map ${Math.round(measured.theirs)} bytes/entry`,
    );
    results.push(
      result(
        'memory.relationship.10m',
        'bytes/relationship',
        'naive cache: Map<"user|device", role> with the same 10M pairs',
        growth,
        false,
      ),
    );
    notes.push(
      `memory.relationship.10m: ${measured.relationships.toLocaleString('en-US')} relationships ` +
        `(${SHAPE_10M.devices.toLocaleString('en-US')} devices), one round.`,
    );
  }

  const keys = context.quick ? 200_000 : 500_000;
  const idempotencyRounds = paired();
  for (let round = 0; round < roundCount; round++) {
    const { ours, theirs } = idempotencyRound(keys);
    idempotencyRounds.ours.push(ours);
    idempotencyRounds.theirs.push(theirs);
    log(
      `round ${round + 1}: ${Math.round(ours)} bytes/remembered key, naive Map ${Math.round(theirs)} bytes/entry`,
    );
  }
  results.push(
    result(
      'memory.idempotency',
      'bytes/key',
      'naive: Map<scope, JSON of the remembered response> with the same keys and responses',
      idempotencyRounds,
      false,
    ),
  );
  notes.push(
    `memory.idempotency: ${keys.toLocaleString('en-US')} distinct Idempotency-Keys inside the retention window ` +
      `(a media service keying every view: scope "media-service:<uuid>", a sha256 request hash, status 201, ` +
      `body {eventId}), applied from events whose metadata is parsed from JSON as the store gives it; ` +
      `heapUsed + arrayBuffers after global.gc() before and after. Memory is bounded by the window's traffic times this figure.`,
  );
  return { results, notes };
};

/** The metadata a keyed view carries, as JSON text, so each event gets fresh strings from JSON.parse. */
function keyedViewMetadata(i: number): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const uuid = (n: number) =>
    `${hex(n, 8)}-${hex(n % 65536, 4)}-4${hex(n % 4096, 3)}-8${hex(n % 4096, 3)}-${hex(n * 7919, 12).slice(-12)}`;
  return JSON.stringify({
    [IDEMPOTENCY_METADATA_KEY]: {
      scope: `media-service:${uuid(i)}`,
      requestHash: `${hex(i, 32)}${hex(i * 31, 32)}`.slice(0, 64),
      status: 201,
      body: { eventId: uuid(i + 0x40000000) },
    },
  });
}

/** Heap bytes per remembered key: the ledger's index against a naive Map of serialized responses. */
function idempotencyRound(keys: number): { ours: number; theirs: number } {
  const recordedAt = new Date(Date.UTC(2024, 1, 16, 9)).toISOString();
  const now = Date.parse(recordedAt) + 60_000;
  const before = settledBytes();
  let index: IdempotencyIndex | null = new IdempotencyIndex({ now: () => now });
  for (let i = 0; i < keys; i++) {
    const event: RecordedEvent = {
      eventId: '00000000-0000-4000-8000-000000000000',
      stream: `views-${i % 16}`,
      revision: BigInt(i >> 4),
      type: 'MediaViewed',
      data: { recordedAt },
      metadata: JSON.parse(keyedViewMetadata(i)) as JsonObject,
      position: { commit: BigInt(i), prepare: BigInt(i) },
    };
    index.apply(event);
  }
  if (index.size !== keys) throw new Error(`the index remembers ${index.size} of ${keys} keys`);
  const ours = (settledBytes() - before) / keys;
  index = null;

  const beforeMap = settledBytes();
  let naive: Map<string, string> | null = new Map<string, string>();
  for (let i = 0; i < keys; i++) {
    const record = (JSON.parse(keyedViewMetadata(i)) as Record<string, Record<string, unknown>>)[
      IDEMPOTENCY_METADATA_KEY
    ];
    const { scope, ...response } = record;
    naive.set(scope as string, JSON.stringify({ ...response, token: `lt1.${i.toString(36)}` }));
  }
  const theirs = (settledBytes() - beforeMap) / naive.size;
  naive = null;
  return { ours, theirs };
}
