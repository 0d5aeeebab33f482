/**
 * The small subset of Python literal syntax a .npy header is written in:
 * {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * Dicts become Maps, never plain objects: a key such as '__proto__' is then just a string, and a
 * key given twice is an error rather than "the last one wins".
 */

export type PyValue = string | number | boolean | null | PyValue[] | PyDict;
export type PyDict = Map<string, PyValue>;

/** Containers inside containers: numpy writes depth 2 (a tuple in a dict); more is not a header. */
const MAX_DEPTH = 8;

/** Parses `src`; throws a plain Error naming the offset otherwise (the caller adds the file). */
export function parsePyLiteral(src: string): PyValue {
  let i = 0;
  const ws = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${i}`);
  };
  const value = (depth: number): PyValue => {
    ws();
    const c = src[i];
    if ((c === '{' || c === '(' || c === '[') && depth >= MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH}`);
    if (c === '{') {
      i++;
      const dict: PyDict = new Map();
      for (;;) {
        ws();
        if (src[i] === '}') break;
        const key = value(depth + 1);
        if (typeof key !== 'string') fail('dict key is not a string');
        if (dict.has(key as string)) fail(`duplicate key '${key as string}'`);
        ws();
        if (src[i++] !== ':') fail("expected ':'");
        dict.set(key as string, value(depth + 1));
        ws();
        if (src[i] === ',') i++;
        else if (src[i] !== '}') fail("expected ',' or '}'");
      }
      i++;
      return dict;
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      for (;;) {
        ws();
        if (src[i] === close) break;
        items.push(value(depth + 1));
        ws();
        if (src[i] === ',') i++;
        else if (src[i] !== close) fail(`expected ',' or '${close}'`);
      }
      i++;
      return items;
    }
    if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = src.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    // Integers, with the 'L' suffix that Python 2 numpy wrote for longs.
    const num = /^-?\d+L?/.exec(src.slice(i, i + 40));
    if (num) {
      i += num[0].length;
      return Number(num[0].replace('L', ''));
    }
    for (const [word, v] of [['True', true], ['False', false], ['None', null]] as const) {
      if (src.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    return fail(`unexpected ${c === undefined ? 'end of header' : `'${c}'`}`);
  };
  const v = value(0);
  ws();
  if (i !== src.length) fail('trailing characters');
  return v;
}
