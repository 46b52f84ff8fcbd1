// Shared by the fence tests: a fenced module's PINNED versions are exactly what package.json pins (when it names the
// package) and what is installed (node_modules/<pkg>/package.json, where the bundle and the tests resolve it from).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const root = new URL('../../../../', import.meta.url);

export function assertPinned(pinned: Record<string, string>): void {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  for (const [name, version] of Object.entries(pinned)) {
    const spec: string | undefined = pkg.dependencies?.[name] ?? pkg.devDependencies?.[name];
    // (torrent-discovery and bittorrent-tracker come through webtorrent: pinned by its exact pin and the lockfile.)
    if (spec !== undefined) assert.equal(spec, version, `package.json pins ${name} exactly at ${version}`);
    const installed = JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, root), 'utf8')).version;
    assert.equal(installed, version, `installed ${name}`);
  }
}
