#!/usr/bin/env node
// Entry of the `backpack-ts` command. The sources are TypeScript run through tsx's loader, so the
// CLI works straight after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
