declare const slot: {
  install(impl: { createServer(...args: unknown[]): unknown; connect(...args: unknown[]): unknown }): void;
  createServer(...args: unknown[]): unknown;
  connect(...args: unknown[]): unknown;
};
export = slot;
