// The version users see (`silmaril --version`, the control API's /health): package.json's, inlined by the bundler.
import { version } from '../package.json';

export const SILMARIL_VERSION: string = version;
