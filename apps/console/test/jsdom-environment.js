// jsdom for the console's component specs, with what the browser has and jsdom lacks
// (react-router encodes with TextEncoder; the form library copies its state with structuredClone).
const { TextDecoder, TextEncoder } = require('node:util');
const { TestEnvironment } = require('jest-environment-jsdom');

module.exports = class ConsoleEnvironment extends TestEnvironment {
  async setup() {
    await super.setup();
    this.global.TextEncoder ??= TextEncoder;
    this.global.TextDecoder ??= TextDecoder;
    this.global.structuredClone ??= structuredClone;
  }
};
