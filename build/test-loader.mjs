// Node module hooks for tests that import sources directly: resolve the same stand-ins as the bundles.
import { pathToFileURL } from 'node:url';
import { aliases } from './aliases.mjs';

export async function resolve(specifier, context, next) {
  const target = aliases[specifier];
  if (target) return { url: pathToFileURL(target).href, shortCircuit: true, format: 'commonjs' };
  return next(specifier, context);
}
