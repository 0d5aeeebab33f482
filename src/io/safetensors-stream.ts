/**
 * Writes a .safetensors file tensor by tensor, pulling streamed tensors chunk by chunk, so results
 * larger than memory (per-sample rows of a big batch) can be written from spill files.
 */
import { closeSync, constants, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { numel } from './host-tensor.ts';
import { ELEM_OF, encodeElements, ITEMSIZE } from './elements.ts';
import { ST_OF_HOST } from './safetensors.ts';
import { isStreamed, type ResultTensor } from './result-tensor.ts';


/** The bytes before the data: u64 LE header length, then the JSON header (space-padded to 8 bytes). */
export function safetensorsPrefix(tensors: Map<string, ResultTensor>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = numel(t.shape) * ITEMSIZE[ELEM_OF[t.dtype]];
    header[name] = { dtype: ST_OF_HOST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const prefix = Buffer.alloc(8 + headerLen, 0x20);
  prefix.writeBigUInt64LE(BigInt(headerLen), 0);
  json.copy(prefix, 8);
  return prefix;
}

export function writeSafetensorsStreaming(file: string, tensors: Map<string, ResultTensor>, metadata?: Record<string, string>): void {
  const prefix = safetensorsPrefix(tensors, metadata);
  mkdirSync(path.dirname(file), { recursive: true });
  // Write to a temporary name and rename: a crash never leaves a half-written results file.
  const tmp = `${file}.partial`;
  // NOTE: O_NONBLOCK and O_NOFOLLOW: a FIFO or a link planted under this name fails the open
  // (ENXIO, ELOOP) instead of blocking it or redirecting the write.
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK | constants.O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, prefix);
    for (const [name, t] of tensors) {
      if (isStreamed(t)) {
        for (const chunk of t.chunks()) writeSync(fd, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } else {
        writeSync(fd, encodeElements(t, `tensor '${name}'`));
      }
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
