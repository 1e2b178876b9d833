export * from './dpop-proof';
export * from './dpop-nonces';
export * from './dpop-replay-cache';
export * from './jwk-thumbprint';
export * from './certificate-thumbprint';
export * from './htu';
export * from './token-binding';
