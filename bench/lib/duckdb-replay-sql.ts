/**
 * The §4 summary as an analyst would write it for DuckDB: the log loaded from NDJSON (one flattened event a
 * line), §2's access intervals built with window functions and an ASOF join, and the views anti-joined
 * against them. The SQL is the peer's side of `peer.duckdb.replay`; our side is `replayIncident`.
 */
export function loadSql(file: string): string {
  const quoted = file.replace(/'/g, "''");
  return `CREATE TABLE events AS SELECT * FROM read_json('${quoted}', format = 'newline_delimited', columns = {
    position: 'BIGINT', type: 'VARCHAR', eventId: 'VARCHAR', deviceId: 'VARCHAR', ownerId: 'VARCHAR',
    userId: 'VARCHAR', newOwnerId: 'VARCHAR', previousOwnerId: 'VARCHAR', keepViewers: 'BOOLEAN',
    expiresAt: 'TIMESTAMP', occurredAt: 'TIMESTAMP', viewerId: 'VARCHAR', mediaId: 'VARCHAR',
    mediaType: 'VARCHAR', action: 'VARCHAR'})`;
}

/**
 * One row: the §4 summary of every view in the log. Intervals are half-open `[s, e)`; an owner's ends at the
 * device's next transfer or decommission, a viewer's at the first of its expiry, its next grant or revoke (a
 * re-grant starts a contiguous interval, so the union is §2's unbroken one), a transfer that drops viewers
 * (or hands this viewer the device), or the decommission.
 */
export const SUMMARY_SQL = `
WITH ownership AS (
  SELECT * FROM events WHERE type <> 'MediaViewed'
), owner_changes AS (
  SELECT deviceId, type, coalesce(ownerId, newOwnerId) AS userId, occurredAt AS s,
         lead(occurredAt) OVER (PARTITION BY deviceId ORDER BY position) AS e
  FROM ownership
  WHERE type IN ('DeviceRegistered', 'OwnershipTransferred', 'DeviceDecommissioned')
), owner_intervals AS (
  SELECT deviceId, userId, s, coalesce(e, 'infinity'::TIMESTAMP) AS e
  FROM owner_changes WHERE type <> 'DeviceDecommissioned'
), device_ends AS (
  SELECT deviceId, position, occurredAt AS t FROM ownership
  WHERE type = 'DeviceDecommissioned' OR (type = 'OwnershipTransferred' AND NOT coalesce(keepViewers, false))
), user_changes AS (
  SELECT deviceId, userId, type, position, occurredAt, expiresAt FROM ownership
  WHERE type IN ('AccessGranted', 'AccessRevoked')
  UNION ALL
  SELECT deviceId, newOwnerId, type, position, occurredAt, NULL FROM ownership
  WHERE type = 'OwnershipTransferred' AND coalesce(keepViewers, false)
), user_steps AS (
  SELECT *, lead(occurredAt) OVER (PARTITION BY deviceId, userId ORDER BY position) AS next_t
  FROM user_changes
), grants AS (
  SELECT * FROM user_steps WHERE type = 'AccessGranted'
), viewer_intervals AS (
  SELECT g.deviceId, g.userId, g.occurredAt AS s,
         least(coalesce(g.expiresAt, 'infinity'::TIMESTAMP), coalesce(g.next_t, 'infinity'::TIMESTAMP),
               coalesce(d.t, 'infinity'::TIMESTAMP)) AS e
  FROM grants g ASOF LEFT JOIN device_ends d ON g.deviceId = d.deviceId AND d.position > g.position
), intervals AS (
  SELECT deviceId, userId, s, e FROM owner_intervals
  UNION ALL
  SELECT deviceId, userId, s, e FROM viewer_intervals
), views AS (
  SELECT position, viewerId, deviceId, occurredAt AS t, mediaType, action FROM events WHERE type = 'MediaViewed'
), exposures AS (
  SELECT v.* FROM views v
  WHERE NOT EXISTS (
    SELECT 1 FROM intervals i
    WHERE i.deviceId = v.deviceId AND i.userId = v.viewerId AND i.s <= v.t AND v.t < i.e)
), exposed AS (
  SELECT x.*, o.userId AS ownerId FROM exposures x
  LEFT JOIN owner_intervals o ON o.deviceId = x.deviceId AND o.s <= x.t AND x.t < o.e
)
SELECT
  (SELECT count(*) FROM views) AS viewsExamined,
  count(*) AS exposures,
  count(DISTINCT viewerId) AS viewersExposed,
  count(DISTINCT viewerId) FILTER (WHERE action IN ('opened', 'played')) AS viewersOpened,
  count(DISTINCT viewerId) FILTER (WHERE action = 'played' AND mediaType IN ('event_video', 'live_stream'))
    AS viewersPlayedVideo,
  count(DISTINCT ownerId) AS ownersAffected,
  count(DISTINCT deviceId) AS devicesAffected,
  strftime(min(t), '%Y-%m-%dT%H:%M:%S.%gZ') AS firstExposureAt,
  strftime(max(t), '%Y-%m-%dT%H:%M:%S.%gZ') AS lastExposureAt
FROM exposed`;
