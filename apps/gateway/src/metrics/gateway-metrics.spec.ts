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

    const text = await metrics.registry.metrics();
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
    expect(await metrics.registry.metrics()).not.toContain('base_path="/demo"');
  });
});
