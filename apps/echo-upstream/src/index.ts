export { createEchoServer } from './echo-server';
