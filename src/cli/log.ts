/**
 * The library never writes to the console; it reports through this logger, which the CLI
 * configures (quiet mode, stderr). Tests and embedders leave it silent or capture it.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

const silent: Logger = { info: () => {}, warn: () => {} };
let current: Logger = silent;

export const log: Logger = {
  info: (m) => current.info(m),
  warn: (m) => current.warn(m),
};

export function setLogger(logger: Logger | null): void {
  current = logger ?? silent;
}

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
