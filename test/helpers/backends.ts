/**
 * Which backends a test runs on. The default backend (what `auto` picks here: native where it is
 * built, else wasm) runs everything; fixture and oracle tests also run on wasm and cpu.
 */
import { nativeAvailability } from '../../src/backends/native/availability.ts';
import type { BackendName } from '../../src/vocabulary.ts';

export const nativeOk = nativeAvailability().ok;

/** The backend `auto` resolves to on this machine (cuda aside: tests never need a GPU). */
export const DEFAULT_BACKEND: BackendName = nativeOk ? 'native' : 'wasm';

/** Every backend a computation is checked on: the default one, then wasm and cpu. */
export const ALL_BACKENDS: BackendName[] = [...new Set<BackendName>([DEFAULT_BACKEND, 'wasm', 'cpu'])];
