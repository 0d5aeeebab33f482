/** The process entry of the `backpack-ts` command (bin/backpack-ts.mjs runs its compiled copy). */
import { main } from './main.ts';

process.exitCode = await main(process.argv);
