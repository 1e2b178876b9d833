export * from './development-master-key';
export * from './iso-timestamp';
export * from './request-id';
export * from './openid-provider-client';
