// Target (a): autocannon straight at the echo upstream — the ceiling for everything else.
export const direct = {
  key: 'a',
  name: 'direct upstream',
  async start({ upstream }) {
    return { url: `http://127.0.0.1:${upstream.port}/bench/items`, headers: {}, pid: upstream.pid, stop: async () => {} };
  },
};
