// A model-like folder for the benchmarks (large safetensors shards, a tokenizer, small json files), generated once
// under the temp dir and reused: random-looking data written fast from one random block stamped with its index,
// so no two pieces are alike.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const MiB = 1024 * 1024;

/**
 * Makes `<cacheDir>/bench-model` unless a previous run completed it. `files` maps names to sizes in bytes (random
 * data) or to objects (written as JSON). `finish(model)` runs once after the files exist; whatever string it returns
 * is kept in `<cacheDir>/.complete` and returned on later runs.
 */
export function generateModelFolder(cacheDir, files, finish = () => '') {
  const model = path.join(cacheDir, 'bench-model');
  const marker = path.join(cacheDir, '.complete');
  if (fs.existsSync(marker)) return { model, info: fs.readFileSync(marker, 'utf8') };
  console.log(`generating ${model} (once)...`);
  fs.rmSync(cacheDir, { recursive: true, force: true });
  fs.mkdirSync(model, { recursive: true });
  const block = crypto.randomBytes(16 * MiB);
  const writeRandom = (name, bytes) => {
    const fd = fs.openSync(path.join(model, name), 'w');
    for (let done = 0, i = 0; done < bytes; i++) {
      const n = Math.min(block.length, bytes - done);
      block.writeUInt32LE(i, 0);
      block.write(name.slice(0, 16), 4);
      fs.writeSync(fd, block, 0, n);
      done += n;
    }
    fs.closeSync(fd);
  };
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === 'number') writeRandom(name, content);
    else if (typeof content === 'string') fs.writeFileSync(path.join(model, name), content);
    else fs.writeFileSync(path.join(model, name), JSON.stringify(content, null, 2));
  }
  const info = finish(model) ?? '';
  fs.writeFileSync(marker, info);
  return { model, info };
}
