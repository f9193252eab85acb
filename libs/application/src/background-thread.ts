import * as os from 'node:os';

/**
 * Lowers the calling thread's scheduling priority to `niceness` (never raises it). Background work on worker
 * threads (replays, exports, building view batches) calls it first: when the cores are all busy, the service's
 * thread answering checks and authorizations gets the CPU first. On Linux the nice value belongs to the
 * calling thread (`setpriority` on the task), so the service's own thread keeps its priority. Where it cannot
 * be lowered, the work runs at the priority it has.
 */
export function yieldToTheServiceThread(niceness: number): void {
  try {
    os.setPriority(0, Math.max(os.getPriority(0), niceness));
  } catch {
    // Not permitted here (a sandbox, another platform's rules): the same priority as the service's thread.
  }
}
