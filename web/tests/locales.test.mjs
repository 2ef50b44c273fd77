// Every locale has every key of the English dictionary (and no key English lacks), each
// placeholder of the English text, and every plural form its own language's rules use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../src/lib/locales');

/** The `'key': 'text'` entries of a locale file. */
function entries(file) {
  const source = readFileSync(join(dir, file), 'utf8');
  const out = new Map();
  for (const match of source.matchAll(/^\s+'([^']+)':\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|`([^`]*)`),?\s*$/gm)) {
    out.set(match[1], match[2] ?? match[3] ?? match[4]);
  }
  return out;
}

// English is split in two: the first screen's texts and the rest (`en.more.ts`).
const ENGLISH = ['en.ts', 'en.more.ts'];
const english = new Map(ENGLISH.flatMap((f) => [...entries(f)]));
const others = readdirSync(dir).filter((f) => f.endsWith('.ts') && !ENGLISH.includes(f));

test('the English dictionary is read whole, each key in one of its two files', () => {
  const lines = ENGLISH.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => /^\s+'[^']+':/.test(l)));
  assert.equal(english.size, lines.length);
  assert.ok(english.size > 400);
});

for (const file of others) {
  test(`${file} has every key, no stray key, and the same placeholders`, () => {
    const table = entries(file);
    const missing = [...english.keys()].filter((k) => !table.has(k));
    const extra = [...table.keys()].filter((k) => !english.has(k));
    assert.deepEqual(missing, [], `${file} lacks keys`);
    assert.deepEqual(extra, [], `${file} has keys English lacks`);
    const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [key, text] of english) {
      // A plural form may spell its number out ("عضوان": two members) instead of `{count}`.
      if (/\.(zero|one|two|few|many|other)$/.test(key)) continue;
      assert.deepEqual(placeholders(table.get(key)), placeholders(text), `${file} ${key}`);
    }
  });
}

test('plural families cover every category of every language', () => {
  const families = new Set([...english.keys()].filter((k) => k.endsWith('.other')).map((k) => k.slice(0, -'.other'.length)));
  assert.ok(families.has('room.members_count'));
  for (const file of ['en.ts', ...others]) {
    const locale = file.replace(/\.ts$/, '');
    const table = file === 'en.ts' ? english : entries(file);
    const categories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories;
    for (const family of families) {
      for (const category of categories) assert.ok(table.has(`${family}.${category}`), `${file}: ${family}.${category}`);
    }
  }
});
