import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

// Each entry point of package.json: the value names its types declare must be the names its
// module exports at run time, so a TypeScript host never imports a name that is not there.
const root = new URL('../', import.meta.url);
const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8'));

function declaredValues(source) {
  const names = new Set();
  for (const match of source.matchAll(/^export declare (?:class|const|function) (\w+)/gm)) {
    names.add(match[1]);
  }
  for (const match of source.matchAll(/^export \{([^}]*)\} from/gm)) {
    for (const name of match[1].split(',').map((part) => part.trim()).filter(Boolean)) names.add(name);
  }
  return [...names].sort();
}

for (const [entry, target] of Object.entries(pkg.exports)) {
  test(`entry point ${entry} exports what its types declare`, async () => {
    // Node has no custom elements: the element's module is read, not registered.
    globalThis.HTMLElement ??= class {};
    const module = await import(new URL(target.default, root));
    const types = await readFile(new URL(target.types, root), 'utf8');

    assert.deepEqual(Object.keys(module).sort(), declaredValues(types));
  });
}
