// Bootstrap of a worker process: register the TypeScript loader, then start the worker loop.
import { register } from 'tsx/esm/api';

register();
await import('./process-worker.ts');
