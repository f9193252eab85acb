import { formatTime, type DeviceCommand, type MediaViewed, type Millis } from '@ledger/domain';
import type { OwnershipLine, ViewLine } from './import/import-line';

/**
 * An ownership change as both write paths hold it once validated: the HTTP handlers build one from a parsed
 * request body, the importer parses one per line. Times are epoch ms; `occurredAt` absent means receipt time.
 */
export type OwnershipChange = OwnershipLine;
/** A reported view, validated (times parsed). */
export type ParsedView = Omit<ViewLine, 'op'>;

/** The one mapping from an ownership change to the decider's command. */
export function toDeviceCommand(change: OwnershipChange, recordedAt: Millis): DeviceCommand {
  const base = {
    deviceId: change.deviceId,
    actor: change.actor,
    ...(change.reason === undefined ? {} : { reason: change.reason }),
    occurredAt: change.occurredAt ?? recordedAt,
    recordedAt,
  };
  switch (change.op) {
    case 'register':
      return {
        type: 'RegisterDevice',
        data: {
          ...base,
          ownerId: change.ownerId,
          ...(change.model === undefined ? {} : { model: change.model }),
        },
      };
    case 'grant':
      return {
        type: 'GrantAccess',
        data: {
          ...base,
          userId: change.userId,
          ...(change.expiresAt === undefined ? {} : { expiresAt: change.expiresAt }),
        },
      };
    case 'revoke':
      return { type: 'RevokeAccess', data: { ...base, userId: change.userId } };
    case 'transfer':
      return {
        type: 'TransferOwnership',
        data: { ...base, newOwnerId: change.newOwnerId, keepViewers: change.keepViewers },
      };
    case 'decommission':
      return { type: 'DecommissionDevice', data: base };
    default: {
      const unreachable: never = change;
      throw new Error(`unknown op ${(unreachable as OwnershipChange).op}`);
    }
  }
}

/** The one `MediaViewed` builder: reported views (HTTP and import) and views the verification layer allowed. */
export function mediaViewed(
  view: ParsedView,
  /** Epoch ms, or already formatted (an importer formats it once per batch). */
  recordedAt: Millis | string,
  authorizedAs?: NonNullable<MediaViewed['data']['authorizedAs']>,
): MediaViewed {
  return {
    type: 'MediaViewed',
    data: {
      viewerId: view.viewerId,
      deviceId: view.deviceId,
      mediaId: view.mediaId,
      mediaType: view.mediaType,
      action: view.action,
      ...(view.servedBy === undefined ? {} : { servedBy: view.servedBy }),
      ...(view.decisionToken === undefined ? {} : { decisionToken: view.decisionToken }),
      occurredAt: formatTime(view.occurredAt),
      recordedAt: typeof recordedAt === 'string' ? recordedAt : formatTime(recordedAt),
      ...(authorizedAs === undefined ? {} : { authorizedAs }),
    },
  };
}
