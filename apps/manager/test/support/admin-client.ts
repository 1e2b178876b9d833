/** The admin REST API over real HTTP, as an operator script would use it. */
export class AdminClient {
  private token?: string;
  constructor(readonly baseUrl: string) {}

  async login(username: string, password: string): Promise<void> {
    this.token = (await this.call('POST', '/api/v1/auth/login', { username, password })).token;
  }

  async call(method: string, path: string, body?: unknown): Promise<any> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
}
