import { createServer, type Server, type Socket } from 'node:net';
import { sqlSourceConfigSchema, type SqlSourceConfig } from '@idm/domain';
import { SourceUnavailableError } from './identity-check';
import { bindUsername } from './sql-dialects';
import { SqlSource } from './sql-source';

/**
 * The MSSQL (mssql/tedious) and Oracle (oracledb thin) drivers share the SQL sources' code path;
 * no such server can run on this machine, so what is proven here is what is ours: the admin's
 * `:username` becomes each driver's own placeholder with the value bound beside the text (never
 * in it), and a server that is not there or does not speak answers source_unavailable /
 * source_timeout within the source's timeout, over real sockets. PostgreSQL and MySQL/MariaDB
 * are tested against real servers in apps/gateway/test/identity-sources.sql.spec.ts.
 */
describe('SQL dialects: :username per driver', () => {
  const hostile = "x' OR '1'='1' -- @username :username $1 ?";
  const query = 'SELECT pw AS password FROM users WHERE login = :username OR alias = :username AND created < now()::date';

  it('postgres: $1, one value however often the parameter appears; a :: cast is no parameter', () => {
    expect(bindUsername(query, 'postgres', hostile)).toEqual({
      text: 'SELECT pw AS password FROM users WHERE login = $1 OR alias = $1 AND created < now()::date',
      values: [hostile],
    });
  });

  it('mysql: one positional ? and one value per occurrence', () => {
    expect(bindUsername(query, 'mysql', hostile)).toEqual({
      text: 'SELECT pw AS password FROM users WHERE login = ? OR alias = ? AND created < now()::date',
      values: [hostile, hostile],
    });
  });

  it('mssql: the declared input @username, the value by name', () => {
    expect(bindUsername(query, 'mssql', hostile)).toEqual({
      text: 'SELECT pw AS password FROM users WHERE login = @username OR alias = @username AND created < now()::date',
      values: { username: hostile },
    });
  });

  it("oracle: Oracle's own named bind :username, the text as written", () => {
    expect(bindUsername(query, 'oracle', hostile)).toEqual({ text: query, values: { username: hostile } });
  });

  it.each(['postgres', 'mysql', 'mssql', 'oracle'] as const)('%s: the value never enters the text, whatever it holds', (driver) => {
    for (const value of [hostile, "'; DROP TABLE users; --", '${username}', ':username']) {
      const bound = bindUsername('SELECT 1 FROM users WHERE login = :username', driver, value);
      // Oracle's placeholder is the parameter's own name: that value is the one text it may hold.
      if (!(driver === 'oracle' && value === ':username')) expect(bound.text).not.toContain(value);
      expect(Object.values(bound.values)).toContain(value);
    }
  });

  it('the configuration takes both drivers, and still only :username', () => {
    const base = { host: 'db', port: 1433, database: 'd', user: 'u', passwordFormat: 'plain', query: 'SELECT pw AS password FROM users WHERE login = :username' };
    for (const driver of ['mssql', 'oracle']) expect(sqlSourceConfigSchema.safeParse({ ...base, driver }).success).toBe(true);
    expect(sqlSourceConfigSchema.safeParse({ ...base, driver: 'db2' }).success).toBe(false);
    expect(sqlSourceConfigSchema.safeParse({ ...base, driver: 'oracle', query: 'SELECT pw FROM users WHERE login = :username AND t = :tenant' }).success).toBe(false);
  });
});

/** A port nothing listens on (just released by the kernel). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.each([
  ['mssql', 'MSSQL (tedious)'],
  ['oracle', 'Oracle (oracledb thin)'],
] as const)('SQL source %s: a server that is not there never hangs a login', (driver, _name) => {
  const sources: SqlSource[] = [];
  let silent: Server;
  let silentPort: number;
  const sockets = new Set<Socket>();
  const source = async (port: number, timeoutMs: number) => {
    const config: SqlSourceConfig = sqlSourceConfigSchema.parse({
      driver,
      host: '127.0.0.1',
      port,
      database: 'users',
      user: 'reader',
      query: 'SELECT pw AS password FROM users WHERE login = :username',
      passwordFormat: 'plain',
    });
    const s = new SqlSource(config, 'db-secret-value', timeoutMs);
    sources.push(s);
    return s;
  };

  beforeAll(async () => {
    // Accepts connections and never says a word: a firewall black hole or a hung server.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });

  afterAll(async () => {
    await Promise.all(sources.map((s) => s.close()));
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  const failure = async (work: Promise<unknown>): Promise<{ error: SourceUnavailableError; ms: number }> => {
    const started = Date.now();
    const error = await work.then(
      () => {
        throw new Error('expected the check to fail');
      },
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(SourceUnavailableError);
    return { error: error as SourceUnavailableError, ms: Date.now() - started };
  };

  it('a closed port: source_unavailable, at once, naming the server and never the secret or the password', async () => {
    const { error, ms } = await failure((await source(await closedPort(), 3000)).check('carol', 'carol-password'));
    expect(error.code).toBe('source_unavailable');
    // The driver got as far as the socket: refused there (not a configuration or runtime error of ours).
    expect(error.message).toMatch(/ECONNREFUSED|refused|Could not connect|NJS-503|NJS-511/i);
    expect(ms).toBeLessThan(3_500);
    expect(error.message).toContain(`${driver}://127.0.0.1`);
    expect(error.message).not.toContain('db-secret-value');
    expect(error.message).not.toContain('carol-password');
  });

  it('a peer that accepts and never speaks: source_timeout within the timeout, and a new attempt at the next login (no failure cached)', async () => {
    const s = await source(silentPort, 800);
    for (let i = 0; i < 2; i++) {
      const { error, ms } = await failure(s.check('carol', 'carol-password'));
      // Whichever fires first, the driver's own connect timeout or ours: the clock ran out, nothing else went wrong.
      expect(`${error.code} ${error.message}`).toMatch(/source_timeout|timeout|timed out|Failed to connect to [0-9.:]+ in 800ms|NJS-510/i);
      // The second login waits for a connection of its own: a failed one is not kept.
      expect(ms).toBeGreaterThanOrEqual(700);
      expect(ms).toBeLessThan(2_500);
      // The driver's connect attempt ends at about the same time as ours: let it settle.
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  });
});
