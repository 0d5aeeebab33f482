// Preloaded (--import) into a measured process: at exit, writes the process's CPU time (user +
// system, all its threads) in seconds to the file $BACKPACK_CPU_FILE. Portable where /usr/bin/time is not.
import { writeFileSync } from 'node:fs';

const file = process.env.BACKPACK_CPU_FILE;
if (file) {
  process.on('exit', () => {
    const { user, system } = process.cpuUsage();
    writeFileSync(file, JSON.stringify({ user: user / 1e6, system: system / 1e6 }));
  });
}
