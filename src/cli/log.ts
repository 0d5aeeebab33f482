/** The CLI's logger (stderr, quiet mode), installed into the library's src/log.ts by each command. */
import type { Logger } from '../log.ts';

export { log, setLogger, type Logger } from '../log.ts';

/** The CLI's logger: messages go to stderr so stdout stays machine-readable. */
export const stderrLogger = (quiet: boolean): Logger => ({
  info: (m) => {
    if (!quiet) process.stderr.write(`${m}\n`);
  },
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
});
