export * from './eventually';
export * from './free-port';
export * from './processes';
export * from './curl';
export * from './test-pki';
export * from './signing-keys';
export * from './echo-upstream';
export * from './snapshot-builders';
