// One jest config for the whole monorepo. Libraries are mapped to their sources so tests never
// depend on a previous build; end-to-end specs (apps/*/test) spawn built processes instead.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
const ESM_ONLY = ['cookie', 'jose', 'openid-client', 'oauth4webapi'];
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.(ts|js)$': swc },
  // ESM-only dependencies are compiled to CommonJS for jest (Node 20 cannot require() them here).
  transformIgnorePatterns: [`/node_modules/(?!(\\.pnpm/)?(${ESM_ONLY.join('|')})[@/])`],
  moduleNameMapper: { '^@idm/([a-z-]+)$': '<rootDir>/libs/$1/src' },
  testMatch: ['<rootDir>/{apps,libs}/*/{src,test}/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 30000,
};
