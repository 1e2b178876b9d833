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
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: { '^@idm/([a-z-]+)$': '<rootDir>/libs/$1/src' },
  testMatch: ['<rootDir>/{apps,libs}/*/{src,test}/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 30000,
};
