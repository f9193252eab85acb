import * as fs from 'node:fs';

/** Linux's USER_HZ: the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds a process has used so far, all its threads (user + system); null where /proc is missing. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** The peak resident set of a process so far, in GiB (0 where /proc is missing). */
export function processPeakRssGiB(pid: number): number {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(hwm?.[1] ?? 0) / 1024 ** 2;
  } catch {
    return 0;
  }
}
