// Preloaded into CLI child processes by the fuzz suite (node --import): at exit, writes the
// process's peak RSS (VmHWM, kB) to $BP_PEAK_FILE, so a test can bound a child's memory.
import { readFileSync, writeFileSync } from 'node:fs';

process.on('exit', () => {
  const file = process.env.BP_PEAK_FILE;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  if (file && m) writeFileSync(file, m[1]);
});
