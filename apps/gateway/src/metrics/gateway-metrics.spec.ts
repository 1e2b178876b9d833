import { GatewayMetrics } from './gateway-metrics';

describe('GatewayMetrics', () => {
  it('exposes per-proxy status classes and a cumulative upstream latency histogram', async () => {
    const metrics = new GatewayMetrics();
    const demo = metrics.forProxy('demo', '/demo');
    demo.countResponse(200);
    demo.countResponse(204);
    demo.countResponse(503);
    demo.countResponse(99); // not an HTTP status class: ignored, never a crash
    demo.observeUpstream(0.003);
    demo.observeUpstream(0.2);
    demo.observeUpstream(45);
    // A new revision asks again: the same series, counts carry on.
    metrics.forProxy('demo', '/demo').countResponse(201);

    const text = await metrics.render();
    expect(text).toContain('# TYPE idm_gateway_requests_total counter');
    expect(text).toContain('idm_gateway_requests_total{proxy="demo",base_path="/demo",status_class="2xx"} 3');
    expect(text).toContain('idm_gateway_requests_total{proxy="demo",base_path="/demo",status_class="5xx"} 1');
    expect(text).toContain('# TYPE idm_gateway_upstream_duration_seconds histogram');
    expect(text).toContain('idm_gateway_upstream_duration_seconds_bucket{proxy="demo",base_path="/demo",le="0.005"} 1');
    expect(text).toContain('idm_gateway_upstream_duration_seconds_bucket{proxy="demo",base_path="/demo",le="0.25"} 2');
    expect(text).toContain('idm_gateway_upstream_duration_seconds_bucket{proxy="demo",base_path="/demo",le="30"} 2');
    expect(text).toContain('idm_gateway_upstream_duration_seconds_bucket{proxy="demo",base_path="/demo",le="+Inf"} 3');
    expect(text).toMatch(/idm_gateway_upstream_duration_seconds_sum\{proxy="demo",base_path="\/demo"\} 45\.20/);
    expect(text).toContain('idm_gateway_upstream_duration_seconds_count{proxy="demo",base_path="/demo"} 3');

    metrics.releaseProxy('demo', '/demo');
    expect(await metrics.render()).not.toContain('base_path="/demo"');
  });

  it('leaves out proxies that never answered, escapes label values, and yields to the event loop while rendering many', async () => {
    const metrics = new GatewayMetrics();
    for (let i = 0; i < 3_000; i++) metrics.forProxy(`proxy-${i}`, `/p${i}`).countResponse(200);
    metrics.forProxy('idle', '/idle');
    metrics.forProxy('odd "name"\\', '/a\nb').countResponse(404);
    let turns = 0;
    let done = false;
    const tick = () => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const text = await metrics.render();
    done = true;
    // 3,001 series at 200 per turn: the request path got the loop back at least 15 times during one scrape.
    expect(turns).toBeGreaterThanOrEqual(15);
    expect(text).not.toContain('base_path="/idle"');
    expect(text).toContain('idm_gateway_requests_total{proxy="odd \\"name\\"\\\\",base_path="/a\\nb",status_class="4xx"} 1');
    expect(text).toContain('idm_gateway_requests_total{proxy="proxy-2999",base_path="/p2999",status_class="2xx"} 1');
    // Each metric's HELP and TYPE once, before its samples.
    expect(text.match(/# TYPE idm_gateway_requests_total counter/g)).toHaveLength(1);
    expect(text.indexOf('# TYPE idm_gateway_upstream_duration_seconds histogram')).toBeGreaterThan(text.lastIndexOf('idm_gateway_requests_total{'));
  });
});
