// Gauges of one scrape of a Gateway's /metrics, for the benches that read its event-loop figures.

/** The values (in seconds) of `names` in one scrape of `base`/metrics, in ms to 0.1; null where absent. */
export async function gaugesMs(base, ...names) {
  const text = await (await fetch(`${base}/metrics`)).text();
  return names.map((name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Math.round(Number(m[1]) * 10_000) / 10 : null;
  });
}
