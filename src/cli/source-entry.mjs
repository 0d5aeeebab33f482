// The `backpack-ts` command run from the TypeScript sources (tests, development): registers tsx,
// then runs the same entry the compiled bin/backpack-ts.mjs runs. Costs ~1 s of transpiling per start.
import { register } from 'tsx/esm/api';

register();
await import('./entry.ts');
