// Bootstrap of a piscina worker thread: threads get no TypeScript loader of their own, so
// register tsx before importing the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
const { default: run } = await import('./thread-worker.ts');
export default run;
