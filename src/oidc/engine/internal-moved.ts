/**
 * Raised at start when an oidc-provider internal that Keyhold adapts is not where it was: the
 * engine was upgraded and the adaptation (a module of this folder) must be reviewed before shipping.
 * Each module's test constructs a provider, so such an upgrade fails the suite at once.
 */
export class EngineInternalMovedError extends Error {
  constructor(what: string, module: string) {
    super(`oidc-provider internal moved: ${what} (adapted in src/oidc/engine/${module}); review it against the new version`);
    this.name = 'EngineInternalMovedError';
  }
}
