/**
 * `node bench/profile.ts FILE.cpuprofile [TOP]`: self time by function and by area of a CPU profile,
 * e.g. one the Keyhold bench server wrote under BENCH_PROFILE=1 (bench/profiles/).
 */
import { formatProfile, summariseProfile } from './lib/profile.ts';

const [file, top = '25'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile.ts FILE.cpuprofile [TOP]\n');
  process.exit(2);
}
process.stdout.write(`${formatProfile(summariseProfile(file, Number(top)))}\n`);
