// Where a node keeps its publisher key: a file in the home (the CLI) or the editor's SecretStorage.
export type { KeyStore } from '../catalog/identity.js';
