export * from './names.schema';
export * from './environment.schema';
export * from './project.schema';
export * from './api-proxy.schema';
export * from './credential.schema';
export * from './api-key';
export * from './permissions';
export * from './governance.schema';
