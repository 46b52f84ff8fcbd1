// Loads sql.js (SQLite compiled to wasm). In the bundle the .wasm sits beside dist/*.js (esbuild.js copies it);
// under tsx it is resolved from node_modules.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import initSqlJs from 'sql.js';
import type { SqlJsStatic } from 'sql.js';

let loading: Promise<SqlJsStatic> | undefined;

function wasmPath(): string {
  const beside = fileURLToPath(new URL('./sql-wasm.wasm', import.meta.url));
  if (existsSync(beside)) return beside;
  return createRequire(import.meta.url).resolve('sql.js/dist/sql-wasm.wasm');
}

export function loadSqlJs(): Promise<SqlJsStatic> {
  if (!loading) {
    const path = wasmPath();
    loading = initSqlJs({ locateFile: () => path });
  }
  return loading;
}
