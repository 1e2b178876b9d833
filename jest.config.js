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
// The console's components: TSX with React's automatic runtime (its specs run in jsdom, by docblock).
const swcTsx = [
  '@swc/jest',
  { jsc: { parser: { syntax: 'typescript', tsx: true }, transform: { react: { runtime: 'automatic' } }, target: 'es2022' }, module: { type: 'commonjs' } },
];
const ESM_ONLY = ['cookie', 'jose', 'openid-client', 'oauth4webapi', '@x0k', 'content-disposition'];
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.tsx$': swcTsx, '^.+\\.(ts|js)$': swc },
  // ESM-only dependencies are compiled to CommonJS for jest (Node 20 cannot require() them here).
  transformIgnorePatterns: [`/node_modules/(?!(\\.pnpm/)?(${ESM_ONLY.join('|')})[@/+])`],
  moduleNameMapper: {
    '^@idm/echo-upstream$': '<rootDir>/apps/echo-upstream/src',
    '^@idm/([a-z-]+)$': '<rootDir>/libs/$1/src',
    '^@idm/([a-z-]+)/([a-z-]+)$': '<rootDir>/libs/$1/src/$2',
  },
  testMatch: ['<rootDir>/{apps,libs}/*/{src,test}/**/*.spec.{ts,tsx}', '<rootDir>/deploy/*/test/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // Also the default of every hook without its own: booting a Manager (migrations, argon2) or a
  // Gateway takes seconds on an idle machine and far longer on a loaded one (a full run under a
  // load average of 10 failed 29 tests on a 30 s beforeAll). A stuck test still fails, later.
  testTimeout: 120000,
};
