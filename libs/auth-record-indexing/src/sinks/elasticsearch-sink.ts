import type { AuthRecord } from '@idm/config-bus';
import { Client, errors } from '@elastic/elasticsearch';
import type { AuthRecordSink } from '../auth-record-sink';

export const AUTH_RECORD_DATA_STREAM = 'analytic-auth-record';

export interface ElasticsearchConnection {
  url: string;
  apiKey?: string;
  username?: string;
  password?: string;
}

/** The client of the indexer and of the Manager's analytics (ELASTICSEARCH_URL and its credentials). */
export function elasticsearchClient(c: ElasticsearchConnection): Client {
  const auth = c.apiKey ? { apiKey: c.apiKey } : c.username ? { username: c.username, password: c.password ?? '' } : undefined;
  return new Client({ node: c.url, ...(auth && { auth }) });
}

/** What the data stream is made of: its template (mappings, ILM policy) and the policy itself. */
export function indexTemplate(): Parameters<Client['indices']['putIndexTemplate']>[0] {
  const keyword = { type: 'keyword' } as const;
  return {
    name: AUTH_RECORD_DATA_STREAM,
    index_patterns: [`${AUTH_RECORD_DATA_STREAM}*`],
    data_stream: {},
    priority: 500,
    template: {
      settings: { 'index.lifecycle.name': AUTH_RECORD_DATA_STREAM },
      mappings: {
        dynamic: 'strict',
        properties: {
          '@timestamp': { type: 'date' },
          record_id: keyword,
          environment: keyword,
          gateway_id: keyword,
          proxy_id: keyword,
          proxy_name: keyword,
          project_id: keyword,
          policy: keyword,
          outcome: keyword,
          reason: keyword,
          status: { type: 'short' },
          credential_id: keyword,
          username: keyword,
          key_prefix: keyword,
          client_id: keyword,
          issuer: keyword,
          token_type: keyword,
          client_ip: { type: 'ip' },
          country: keyword,
          user_agent: { type: 'keyword', ignore_above: 512 },
          request_id: keyword,
          latency_ms: { type: 'float' },
          llm: {
            properties: {
              model: keyword,
              prompt_tokens: { type: 'integer' },
              completion_tokens: { type: 'integer' },
              total_tokens: { type: 'integer' },
              estimated: { type: 'boolean' },
            },
          },
        },
      },
    },
  };
}

/** Fields added to the mappings after the data stream's first release (put on its existing backing indices at start). */
const ADDED_FIELDS = { client_id: { type: 'keyword' } } as const;

export function lifecyclePolicy(retentionDays: number): Parameters<Client['ilm']['putLifecycle']>[0] {
  return {
    name: AUTH_RECORD_DATA_STREAM,
    policy: {
      phases: {
        hot: { actions: { rollover: { max_age: '1d', max_primary_shard_size: '50gb' } } },
        delete: { min_age: `${retentionDays}d`, actions: { delete: {} } },
      },
    },
  };
}

/** One record as a document of the data stream (snake_case fields, `@timestamp`). */
export function documentOf(record: AuthRecord): Record<string, unknown> {
  return {
    '@timestamp': new Date(record.time).toISOString(),
    record_id: record.id,
    environment: record.environment,
    gateway_id: record.gatewayId,
    proxy_id: record.proxyId,
    proxy_name: record.proxyName,
    project_id: record.projectId,
    policy: record.policy,
    outcome: record.outcome,
    reason: record.reason,
    status: record.status,
    credential_id: record.credentialId,
    username: record.username,
    key_prefix: record.keyPrefix,
    client_id: record.clientId ?? null,
    issuer: record.issuer,
    token_type: record.tokenType,
    client_ip: record.clientIp === '' ? null : record.clientIp,
    country: record.country,
    user_agent: record.userAgent,
    request_id: record.requestId,
    latency_ms: record.latencyMs,
    llm: record.llm
      ? {
          model: record.llm.model,
          prompt_tokens: record.llm.promptTokens,
          completion_tokens: record.llm.completionTokens,
          total_tokens: record.llm.totalTokens,
          estimated: record.llm.estimated,
        }
      : null,
  };
}

export interface ElasticsearchSinkOptions {
  retentionDays: number;
  /** Attempts of the items Elasticsearch answered 429 (then the write fails and the indexer retries later). */
  maxAttempts?: number;
  /** First backoff after a 429; doubled per attempt. */
  backoffMs?: number;
}

/**
 * The Elasticsearch 8/9 sink: ILM policy and index template at start, then `_bulk` `create`
 * operations (the only kind a data stream takes) with the record id as `_id`, so a redelivered
 * record is a 409 conflict, taken as already written. Items answered 429 (and a whole request
 * answered 429) are retried with backoff; any other item failure fails the write (retried later
 * by the indexer, never acknowledged as written).
 */
export class ElasticsearchSink implements AuthRecordSink {
  readonly name = 'elasticsearch';

  constructor(
    private readonly client: Client,
    private readonly options: ElasticsearchSinkOptions,
  ) {}

  async prepare(): Promise<void> {
    await this.client.ilm.putLifecycle(lifecyclePolicy(this.options.retentionDays));
    await this.client.indices.putIndexTemplate(indexTemplate());
    await this.addNewFields();
  }

  /**
   * The template reaches only backing indices made after it: the data stream's current ones
   * (mappings `strict`) get the fields added since they were made, or writes carrying them fail.
   * Before the first write there is no data stream yet (404), and nothing to add to.
   */
  private async addNewFields(): Promise<void> {
    try {
      await this.client.indices.putMapping({ index: AUTH_RECORD_DATA_STREAM, properties: ADDED_FIELDS });
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 404) return;
      throw err;
    }
  }

  async write(records: readonly AuthRecord[]): Promise<void> {
    let pending = records;
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const throttled = await this.bulk(pending);
      if (throttled.length > 0 && attempt >= maxAttempts) throw new Error(`Elasticsearch kept answering 429 for ${throttled.length} records`);
      if (throttled.length > 0) await new Promise((resolve) => setTimeout(resolve, (this.options.backoffMs ?? 200) * 2 ** (attempt - 1)));
      pending = throttled;
    }
  }

  /** Nothing to do: the ILM policy's delete phase removes old backing indices. */
  async applyRetention(): Promise<void> {}

  async close(): Promise<void> {
    await this.client.close();
  }

  /** One `_bulk`; returns the records to send again (429). */
  private async bulk(records: readonly AuthRecord[]): Promise<readonly AuthRecord[]> {
    let response;
    try {
      response = await this.client.bulk({ operations: records.flatMap((r) => [{ create: { _index: AUTH_RECORD_DATA_STREAM, _id: r.id } }, documentOf(r)]) });
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 429) return records;
      throw err;
    }
    if (!response.errors) return [];
    const retry: AuthRecord[] = [];
    const failures: string[] = [];
    response.items.forEach((item, i) => {
      const result = item.create;
      if (result === undefined || result.error === undefined || result.error === null) return;
      if (result.status === 409) return; // already written (a redelivery)
      if (result.status === 429) retry.push(records[i]);
      else failures.push(`${result.status} ${result.error.type}`);
    });
    if (failures.length > 0) throw new Error(`Elasticsearch refused ${failures.length} records: ${[...new Set(failures)].slice(0, 3).join(', ')}`);
    return retry;
  }
}
