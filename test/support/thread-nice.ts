import * as fs from 'node:fs';

/** The nice value of each thread of this process, by thread id (Linux: /proc/self/task/<tid>/stat). */
export function niceOfThreads(): Map<number, number> {
  const nice = new Map<number, number>();
  for (const thread of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${thread}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): nice is the 19th field.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      nice.set(Number(thread), Number(fields[16]));
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return nice;
}
