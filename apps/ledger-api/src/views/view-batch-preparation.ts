import { InvalidInputError } from '@ledger/domain';
import { buildViewBatch, type ViewBatch } from '@ledger/application';
import type { NewEvent } from '@ledger/event-store';
import { ViewBatchDto } from '../dto/view.dto';
import { compileDtoCheck, ValidatedBody } from '../http/compiled-validation';
import { acceptedJsonBody } from '../http/json-body';

/** A batch built on the worker thread, as it crosses back: its stream, and its events as one JSON text. */
export interface BuiltViewBatch {
  readonly stream: string;
  /** `JSON.stringify` of the events: one string crosses threads as one copy, and parses faster than a clone. */
  readonly eventsJson: string;
}

/**
 * What the worker thread does with a `POST /v1/views/batch` body received at `now`: every check the event loop
 * would make — the body parser's, the DTO rules' compiled fast path, each view's time, skew and token — then
 * the batch's events, ids from `ids`. Null when any check does not pass, or anything else goes wrong: the
 * caller then takes the body through the loop's own path, which answers with the contract's messages (a
 * refusal is rare; its cost does not matter, its words do). So this never decides an error's wording.
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
  return { stream: batch.stream, eventsJson: JSON.stringify(batch.events) };
}

/**
 * A view batch as the body parser hands it to the route when the worker built it: the route appends it as it
 * is (`LedgerCommands.appendViewBatch`). Its events are parsed on the loop only when the handler asks, after
 * the bulk-ingest gate's last yield to interactive requests.
 */
export class PreparedViewBatch extends ValidatedBody {
  readonly validatedAs = ViewBatchDto;

  constructor(private readonly built: BuiltViewBatch) {
    super();
  }

  batch(): ViewBatch {
    return { stream: this.built.stream, events: JSON.parse(this.built.eventsJson) as NewEvent[] };
  }
}
