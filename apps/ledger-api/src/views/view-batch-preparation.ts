import { InvalidInputError } from '@ledger/domain';
import { buildViewBatch, type SerializedViewBatch, type ViewBatch } from '@ledger/application';
import { ViewBatchDto } from '../dto/view.dto';
import { compileDtoCheck, ValidatedBody } from '../http/compiled-validation';
import { acceptedJsonBody } from '../http/json-body';

/**
 * A batch built on the worker thread, as it crosses back: its events in the form the store keeps them, packed
 * into a few strings (the ids side by side, the data texts side by side, where each one ends). One string
 * crosses threads as one copy, and the loop then takes each event's text as a slice of it: it never parses,
 * builds or serializes a thousand events, and the batch is a handful of objects while its commit is in flight
 * (the garbage collector was the biggest share of the loop's long stretches during bulk ingest).
 */
export interface BuiltViewBatch {
  readonly stream: string;
  /** Every view of a batch is a `MediaViewed`: one type for all. */
  readonly type: string;
  /** The event ids, each `UUID_LENGTH` characters, side by side. */
  readonly eventIds: string;
  /** `JSON.stringify` of each event's data, side by side: the i-th ends at `dataEnds[i]`. */
  readonly dataJson: string;
  readonly dataEnds: number[];
}

const UUID_LENGTH = 36;

/**
 * What the worker thread does with a `POST /v1/views/batch` body received at `now`: every check the event loop
 * would make — the body parser's, the DTO rules' compiled fast path, each view's time, skew and token — then
 * the batch's events, ids from `ids`, serialized as the store keeps them. Null when any check does not pass,
 * or anything else goes wrong: the caller then takes the body through the loop's own path, which answers with
 * the contract's messages (a refusal is rare; its cost does not matter, its words do). So this never decides
 * an error's wording.
 */
export function prepareViewBatch(
  body: Uint8Array,
  now: number,
  ids: (index: number) => string,
): BuiltViewBatch | null {
  const check = compileDtoCheck(ViewBatchDto);
  const parsed = acceptedJsonBody(body);
  if (check === null || parsed === null || !check(parsed)) return null;
  let batch: ViewBatch;
  try {
    batch = buildViewBatch((parsed as ViewBatchDto).views, now, ids);
  } catch (error) {
    if (error instanceof InvalidInputError) return null;
    throw error;
  }
  return packViewBatch(batch);
}

/** The batch packed for the crossing; null if its events do not fit the packing (the loop's path then). */
function packViewBatch(batch: ViewBatch): BuiltViewBatch | null {
  const { events } = batch;
  const type = events[0].type;
  const eventIds = new Array<string>(events.length);
  const data = new Array<string>(events.length);
  const dataEnds = new Array<number>(events.length);
  let end = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (event.type !== type || event.eventId.length !== UUID_LENGTH || event.metadata !== undefined)
      return null;
    eventIds[i] = event.eventId;
    // The text `append` would store for this event (`serializeJsonObject`): JSON.stringify of the data.
    data[i] = JSON.stringify(event.data);
    end += data[i].length;
    dataEnds[i] = end;
  }
  return { stream: batch.stream, type, eventIds: eventIds.join(''), dataJson: data.join(''), dataEnds };
}

/**
 * A view batch as the body parser hands it to the route when the worker built it: the route appends its rows
 * as they are (`LedgerCommands.appendViewBatch`). The per-event strings are slices of the packed ones, made
 * only when the handler asks, after the bulk-ingest gate's last yield to interactive requests.
 */
export class PreparedViewBatch extends ValidatedBody {
  readonly validatedAs = ViewBatchDto;

  constructor(private readonly built: BuiltViewBatch) {
    super();
  }

  rows(): SerializedViewBatch {
    const { stream, type, eventIds, dataJson, dataEnds } = this.built;
    const count = dataEnds.length;
    const ids = new Array<string>(count);
    const data = new Array<string>(count);
    let start = 0;
    for (let i = 0; i < count; i++) {
      ids[i] = eventIds.slice(i * UUID_LENGTH, (i + 1) * UUID_LENGTH);
      data[i] = dataJson.slice(start, dataEnds[i]);
      start = dataEnds[i];
    }
    return { stream, events: { eventIds: ids, types: new Array<string>(count).fill(type), dataJson: data } };
  }
}
