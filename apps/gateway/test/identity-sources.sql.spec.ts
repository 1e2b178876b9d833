import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { sqlSourceConfigSchema, type SqlPasswordFormat, type SqlSourceConfig } from '@idm/domain';
import { hash as argon2Hash } from 'argon2';
import bcrypt from 'bcryptjs';
import mysql from 'mysql2/promise';
import { Client } from 'pg';
import { SqlSource } from '@idm/identity-sources';

/**
 * Identity sources of type sql against the machine's PostgreSQL (127.0.0.1:5432) and MariaDB
 * (127.0.0.1:3306), each in a database of its own made and dropped here. Every password format
 * is stored the way its legacy application would store it, then checked through the source.
 */
const database = `idm_fed_${process.pid}_${randomBytes(3).toString('hex')}`;
const salt = 'pepper-salt';

async function storedPasswords(password: string): Promise<Record<SqlPasswordFormat, string>> {
  const pbkdf2Salt = 'abcdefgh12345678';
  return {
    argon2: await argon2Hash(password),
    bcrypt: await bcrypt.hash(password, 8),
    pbkdf2: `pbkdf2_sha256$1000$${pbkdf2Salt}$${pbkdf2Sync(password, pbkdf2Salt, 1000, 32, 'sha256').toString('base64')}`,
    'salted-sha256': createHash('sha256')
      .update(salt + password)
      .digest('hex'),
    plain: password,
  };
}

const FORMATS: SqlPasswordFormat[] = ['argon2', 'bcrypt', 'pbkdf2', 'salted-sha256', 'plain'];

describe.each([
  ['postgres', 5432],
  ['mysql', 3306],
] as const)('SQL identity source: %s', (driver, port) => {
  let admin: { exec(sql: string, params?: unknown[]): Promise<unknown>; close(): Promise<void> };
  const sources: SqlSource[] = [];

  const config = (passwordFormat: SqlPasswordFormat, overrides: Partial<SqlSourceConfig> = {}): SqlSourceConfig =>
    sqlSourceConfigSchema.parse({
      driver,
      host: '127.0.0.1',
      port,
      database,
      user: driver === 'postgres' ? 'postgres' : 'root',
      query: `SELECT ${passwordFormat === 'argon2' ? 'pw_argon2' : `pw_${passwordFormat.replace('-', '_')}`} AS password, salt, email, display_name, grp AS groups FROM app_users WHERE login = :username`,
      passwordFormat,
      ...overrides,
    });
  const source = (c: SqlSourceConfig, timeoutMs = 10_000) => {
    const s = new SqlSource(c, null, timeoutMs);
    sources.push(s);
    return s;
  };

  beforeAll(async () => {
    if (driver === 'postgres') {
      const root = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await root.connect();
      await root.query(`CREATE DATABASE ${database}`);
      await root.end();
      const db = new Client({ host: '127.0.0.1', port, user: 'postgres', database });
      await db.connect();
      admin = { exec: (sql, params) => db.query(sql, params), close: () => db.end() };
    } else {
      const root = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      await root.query(`CREATE DATABASE ${database}`);
      await root.changeUser({ database });
      admin = { exec: (sql, params) => root.execute(sql, params as never), close: () => root.end() };
    }
    const columns = FORMATS.map((f) => `pw_${f.replace('-', '_')} TEXT`).join(', ');
    await admin.exec(`CREATE TABLE app_users (login VARCHAR(300) PRIMARY KEY, ${columns}, salt TEXT, email TEXT, display_name TEXT, grp TEXT)`);
    for (const [login, password, groups] of [
      ['carol', 'carol-pass', 'admins,staff'],
      ['dave', 'dave-pass', '["staff"]'],
    ]) {
      const stored = await storedPasswords(password!);
      const placeholders = driver === 'postgres' ? FORMATS.map((_, i) => `$${i + 2}`).join(', ') : FORMATS.map(() => '?').join(', ');
      const tail = driver === 'postgres' ? `$${FORMATS.length + 2}, $${FORMATS.length + 3}, $${FORMATS.length + 4}, $${FORMATS.length + 5}` : '?, ?, ?, ?';
      await admin.exec(`INSERT INTO app_users VALUES (${driver === 'postgres' ? '$1' : '?'}, ${placeholders}, ${tail})`, [
        login,
        ...FORMATS.map((f) => stored[f]),
        salt,
        `${login}@example.org`,
        `${login} (legacy)`,
        groups,
      ]);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sources.map((s) => s.close()));
    await admin?.close();
    if (driver === 'postgres') {
      const root = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await root.connect();
      await root.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await root.end();
    } else {
      const root = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      await root.query(`DROP DATABASE IF EXISTS ${database}`);
      await root.end();
    }
  });

  it.each(FORMATS)('%s: the right password verifies with the row attributes and groups, a wrong one is rejected', async (format) => {
    const s = source(config(format));
    expect(await s.check('carol', 'carol-pass')).toEqual({
      outcome: 'verified',
      identity: { username: 'carol', email: 'carol@example.org', displayName: 'carol (legacy)', groups: ['admins', 'staff'] },
    });
    expect(await s.check('dave', 'dave-pass')).toMatchObject({ outcome: 'verified', identity: { groups: ['staff'] } });
    expect(await s.check('carol', 'dave-pass')).toEqual({ outcome: 'rejected' });
    expect(await s.check('nobody', 'carol-pass')).toEqual({ outcome: 'rejected' });
  });

  it('salted SHA-256 honours the salt position (suffix does not match a prefix-salted table)', async () => {
    expect(await source(config('salted-sha256', { saltPosition: 'suffix' })).check('carol', 'carol-pass')).toEqual({ outcome: 'rejected' });
  });

  it.each([
    ['a quote', "carol' OR '1'='1"],
    ['a comment', "carol'--"],
    ['a UNION', "x' UNION SELECT 'carol-pass','','','','' --"],
  ])('SQL injection in the username (%s) is only ever a bound value', async (_, username) => {
    expect(await source(config('plain')).check(username, 'carol-pass')).toEqual({ outcome: 'rejected' });
    // The table is intact.
    expect((await source(config('plain')).check('carol', 'carol-pass')).outcome).toBe('verified');
  });

  it('a query returning several rows is source_misconfigured, not a login', async () => {
    const loose = config('plain', { query: 'SELECT pw_plain AS password, salt, email, display_name, grp AS groups FROM app_users WHERE login <> :username' });
    await expect(source(loose).check('x', 'carol-pass')).rejects.toMatchObject({ code: 'source_misconfigured' });
  });

  it('a database that is down is source_unavailable; a query slower than the timeout is source_timeout', async () => {
    await expect(source(config('plain', { port: 1 }), 2000).check('carol', 'carol-pass')).rejects.toMatchObject({ code: 'source_unavailable' });
    const sleep = driver === 'postgres' ? 'pg_sleep(3)' : 'SLEEP(3)';
    const slow = config('plain', { query: `SELECT pw_plain AS password, salt, email, display_name, grp AS groups, ${sleep} AS z FROM app_users WHERE login = :username` });
    await expect(source(slow, 500).check('carol', 'carol-pass')).rejects.toMatchObject({ code: 'source_timeout' });
  });
});

describe('SQL source configuration', () => {
  const base = { driver: 'postgres', host: 'db', port: 5432, database: 'd', user: 'u', passwordFormat: 'plain' };
  it.each([
    ['not a SELECT', 'DELETE FROM users WHERE login = :username'],
    ['two statements', 'SELECT password FROM users WHERE login = :username; DROP TABLE users'],
    ['no :username', 'SELECT password FROM users'],
    ['another parameter', 'SELECT password FROM users WHERE login = :username AND tenant = :tenant'],
  ])('refuses a query that is %s', (_, query) => {
    expect(sqlSourceConfigSchema.safeParse({ ...base, query }).success).toBe(false);
  });

  it('accepts PostgreSQL casts next to :username', () => {
    expect(sqlSourceConfigSchema.safeParse({ ...base, query: 'SELECT password::text FROM users WHERE login = :username::text' }).success).toBe(true);
  });
});
