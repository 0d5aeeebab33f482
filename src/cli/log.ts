/** The CLI's logger (stderr, quiet mode), installed into the library's src/log.ts by each command. */
import type { Logger } from '../log.ts';

export { log, setLogger, type Logger } from '../log.ts';

/**
 * The CLI's logger: messages go to stderr so stdout stays machine-readable. `timestamps` starts
 * every line with the local time and offset (long-running processes: a queue worker's log).
 */
export const stderrLogger = (quiet: boolean, o: { timestamps?: boolean } = {}): Logger => {
  const stamp = () => (o.timestamps ? `${timestamp(new Date())} ` : '');
  return {
    info: (m) => {
      if (!quiet) process.stderr.write(`${stamp()}${m}\n`);
    },
    warn: (m) => process.stderr.write(`${stamp()}warning: ${m}\n`),
  };
};

/** ISO 8601 local time with milliseconds and the UTC offset, e.g. 2026-12-02T01:02:03.456+01:00. */
export function timestamp(d: Date): string {
  const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = `${off >= 0 ? '+' : '-'}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}${zone}`;
}
