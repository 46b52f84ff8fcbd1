// Resolves `import 'vscode'` to the fake (fake-vscode.ts) for the view tests: no VS Code runs under `npm test`.
export async function resolve(specifier, context, next) {
  if (specifier === 'vscode') return { url: new URL('./fake-vscode.mjs', import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
