/**
 * What points users at documentation must point at something: every `docs/….md` a command's --help
 * names exists, and every relative link of README.md and docs/*.md resolves to a file (and, with a
 * #fragment, to a heading of it).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const COMMANDS = ['run', 'demo', 'submit', 'worker', 'status', 'result', 'cancel', 'dashboard', 'sweep', 'report', 'import-tfjs'];

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');

function headings(file: string): Set<string> {
  const out = new Set<string>();
  let code = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) code = !code;
    const m = !code && /^#{1,6} (.*)$/.exec(line);
    if (m) out.add(anchor(m[1]));
  }
  return out;
}

describe('documentation pointers', () => {
  it.each(COMMANDS)('`%s --help` names only docs pages that exist', async (cmd) => {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    const help = r.stdout + r.stderr;
    expect(help).toContain(`backpack-ts ${cmd}`);
    for (const [page] of help.matchAll(/docs\/[\w-]+\.md/g)) expect(existsSync(path.join(ROOT, page)), `${cmd} --help → ${page}`).toBe(true);
  });

  const pages = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  it.each(pages)('the relative links of %s resolve', (page) => {
    const text = readFileSync(path.join(ROOT, page), 'utf8');
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    for (const link of links) {
      const [file, fragment] = link.split('#');
      const target = file ? path.resolve(path.dirname(path.join(ROOT, page)), file) : path.join(ROOT, page);
      expect(existsSync(target), `${page}: ${link}`).toBe(true);
      if (fragment && target.endsWith('.md')) expect(headings(target).has(fragment), `${page}: ${link} (no such heading)`).toBe(true);
    }
  });
});
