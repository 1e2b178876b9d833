export * from './presented-access-token';
export * from './schema';
export * from './sender-constraint';
