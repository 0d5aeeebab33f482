/**
 * Downloads MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 (binary versions) from their official
 * locations into data/, checking each file's published MD5, in the layouts openDataset() reads:
 *
 *   data/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz          openDataset('data/mnist')
 *   data/fashion-mnist/… (same names)                                    openDataset('data/fashion-mnist')
 *   data/cifar-10-batches-bin/{data_batch_1…5,test_batch}.bin            openDataset('data/cifar-10-batches-bin')
 *   data/cifar-100-binary/{train,test}.bin                               openDataset({path: 'data/cifar-100-binary', split: 'test'})
 *
 * NOTE: data/ is for local use only and must never be committed (≈ 400 MB; the datasets carry
 * their own licences). Keep the line `data/` in .gitignore.
 *
 * Usage (needs internet; tests never run this):
 *   node --import tsx scripts/fetch-datasets.ts [--dry-run] [--out DIR] [mnist fashion-mnist cifar10 cifar100]
 * With no names, fetches all four. --dry-run prints what it would download and extract, and
 * touches nothing. Files already present with the right MD5 are skipped.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { gunzipSync } from 'node:zlib';

interface Remote {
  /** Tried in order: the first that answers is used. */
  urls: string[];
  file: string;
  md5: string;
  /** A .tar.gz whose members under this folder are extracted next to it (then the archive is removed). */
  extract?: string;
}

const MNIST_FILES = {
  mnist: [
    ['train-images-idx3-ubyte.gz', 'f68b3c2dcbeaaa9fbdd348bbdeb94873'],
    ['train-labels-idx1-ubyte.gz', 'd53e105ee54ea40749a09fcbcd1e9432'],
    ['t10k-images-idx3-ubyte.gz', '9fb629c4189551a2d022fa330f9573f3'],
    ['t10k-labels-idx1-ubyte.gz', 'ec29112dd5afa0611ce80d1b7f02629c'],
  ],
  'fashion-mnist': [
    ['train-images-idx3-ubyte.gz', '8d4fb7e6c68d591d4c3dfef9ec88bf0d'],
    ['train-labels-idx1-ubyte.gz', '25c81989df183df01b3e8a0aad5dffbe'],
    ['t10k-images-idx3-ubyte.gz', 'bef4ecab320f06d8554ea6380940ec79'],
    ['t10k-labels-idx1-ubyte.gz', 'bb300cfdad3c16e7a12a480ee83cd310'],
  ],
} as const;

/**
 * yann.lecun.com is the original MNIST home but now often refuses downloads; the PyTorch
 * mirror (the one torchvision uses) serves the identical files, checked by the same MD5s.
 */
const MIRRORS = {
  mnist: ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'],
  'fashion-mnist': [
    'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
  ],
};

const DATASETS: Record<string, Remote[]> = {
  mnist: MNIST_FILES.mnist.map(([f, md5]) => ({ urls: MIRRORS.mnist.map((m) => m + f), file: `mnist/${f}`, md5 })),
  'fashion-mnist': MNIST_FILES['fashion-mnist'].map(([f, md5]) => ({ urls: MIRRORS['fashion-mnist'].map((m) => m + f), file: `fashion-mnist/${f}`, md5 })),
  cifar10: [{ urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'], file: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', extract: 'cifar-10-batches-bin' }],
  cifar100: [{ urls: ['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'], file: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8', extract: 'cifar-100-binary' }],
};

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

async function download(r: Remote, path: string): Promise<Uint8Array> {
  for (const url of r.urls) {
    console.log(`  GET ${url}`);
    const res = await fetch(url).catch((e: Error) => e);
    if (res instanceof Error || !res.ok) {
      console.log(`    failed: ${res instanceof Error ? res.message : `HTTP ${res.status}`}`);
      continue;
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const sum = md5(bytes);
    if (sum !== r.md5) throw new Error(`${url}: MD5 ${sum}, expected ${r.md5}; not saved`);
    await writeFile(`${path}.part`, bytes);
    await rename(`${path}.part`, path);
    return bytes;
  }
  throw new Error(`${r.file}: no mirror answered (${r.urls.join(', ')})`);
}

/** Writes the regular-file members of a (ustar) tar under `folder/` into `out`. */
async function untar(tar: Uint8Array, folder: string, out: string): Promise<string[]> {
  const written: string[] = [];
  const text = (a: number, n: number) => new TextDecoder().decode(tar.subarray(a, a + n)).replace(/\0.*$/s, '');
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    const name = (text(at + 345, 155) ? `${text(at + 345, 155)}/` : '') + text(at, 100);
    const size = parseInt(text(at + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(tar[at + 156] || 48);
    const path = normalize(name);
    // Only plain files inside the expected folder: no links, no '..' escapes.
    if (type === '0' && path.startsWith(`${folder}/`) && !path.split('/').includes('..')) {
      const dest = join(out, path);
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(dest, tar.subarray(at + 512, at + 512 + size));
      written.push(dest);
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return written;
}

async function fetchOne(r: Remote, out: string, dryRun: boolean): Promise<void> {
  const path = join(out, r.file);
  if (r.extract && existsSync(join(out, r.extract))) {
    console.log(`  ${join(out, r.extract)} exists; skipped`);
    return;
  }
  if (existsSync(path) && md5(await readFile(path)) === r.md5) {
    console.log(`  ${path} present (MD5 ok); skipped`);
  } else if (dryRun) {
    console.log(`  would download ${r.urls[0]} → ${path} (MD5 ${r.md5})`);
  } else {
    await mkdir(dirname(path), { recursive: true });
    await download(r, path);
  }
  if (!r.extract) return;
  if (dryRun) {
    console.log(`  would extract ${r.extract}/ from ${path} into ${out}, then remove ${path}`);
    return;
  }
  const files = await untar(gunzipSync(await readFile(path)), r.extract, out);
  console.log(`  extracted ${files.length} files into ${join(out, r.extract)}`);
  await rm(path);
}

async function main(argv: string[]): Promise<void> {
  const dryRun = argv.includes('--dry-run');
  const outAt = argv.indexOf('--out');
  const out = outAt >= 0 ? argv[outAt + 1] : 'data';
  const names = argv.filter((a, i) => !a.startsWith('--') && !(outAt >= 0 && i === outAt + 1));
  if (!out) {
    console.error('--out needs a directory');
    process.exit(2);
  }
  const unknown = names.filter((n) => !(n in DATASETS));
  if (unknown.length > 0) {
    console.error(`unknown dataset ${unknown.join(', ')}; choose from ${Object.keys(DATASETS).join(', ')}`);
    process.exit(2);
  }
  for (const name of names.length > 0 ? names : Object.keys(DATASETS)) {
    console.log(`${name}${dryRun ? ' (dry run)' : ''}:`);
    for (const r of DATASETS[name]) await fetchOne(r, out, dryRun);
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
