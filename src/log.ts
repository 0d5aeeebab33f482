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
