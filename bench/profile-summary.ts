import { formatProfile, summarizeProfile } from './lib/cpu-profile';

/** `node dist/bench/profile-summary.js FILE.cpuprofile [top]`: the heaviest frames of a `--cpu-prof` profile. */
const [file, top] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: profile-summary FILE.cpuprofile [top]\n');
  process.exit(2);
}
process.stdout.write(`${formatProfile(summarizeProfile(file, top ? Number(top) : 25))}\n`);
