export * from './oauth-error';
export * from './jwt-claims';
export { isSigningAlgorithm, keyMismatch } from './jws-algorithm';
export * from './signing-key-ring';
export * from './jwt-signer';
export * from './token-rejection';
export * from './jwt-verifier';
export * from './token-store-unavailable';
export * from './opaque-token.store';
