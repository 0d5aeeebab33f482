/**
 * JSON.parse keeps the last of two equal keys without a word. In a safetensors header that would
 * let one file mean two things (a reader that keeps the first entry sees other weights), so
 * headers are scanned for a repeated key. The scan is a loop with an explicit stack: it never
 * recurses, however deep the nesting.
 */

interface Frame {
  keys: Set<string> | null; // null: an array
  expectKey: boolean;
}

/** The first key that appears twice in one object of `text` (valid JSON), or undefined. */
export function firstDuplicateKey(text: string): string | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ keys: null, expectKey: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',' && top?.keys) top.expectKey = true;
    else if (c === ':' && top?.keys) top.expectKey = false;
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
      }
      i = j;
    }
  }
  return undefined;
}
