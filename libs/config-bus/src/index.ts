export * from './snapshot.schema';
export * from './config-changed.message';
export * from './snapshot.store';
export * from './token-persistence';
export * from './fast-string-prototype';
export * from './publication-epoch';
export * from './redis-connection';
