// Validates Kubernetes objects against the API's OpenAPI schemas bundled in kubernetes-models
// (and @kubernetes-models/prometheus-operator for ServiceMonitor). ESM-only packages, hence a
// separate process: reads a JSON array of objects on stdin, prints a JSON array of problems.
const packages = { 'monitoring.coreos.com': '@kubernetes-models/prometheus-operator' };

async function modelOf({ apiVersion, kind }) {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  const pkg = packages[group] ?? 'kubernetes-models';
  const module = await import(`${pkg}/${apiVersion}/${kind}`);
  return module[kind];
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const objects = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const problems = [];
for (const object of objects) {
  const where = `${object?.kind}/${object?.metadata?.name}`;
  let Model;
  try {
    Model = await modelOf(object);
  } catch {
    problems.push(`${where}: no schema for ${object?.apiVersion} ${object?.kind}`);
    continue;
  }
  try {
    new Model(object).validate();
  } catch (err) {
    problems.push(`${where}: ${err.message}`);
  }
}
process.stdout.write(JSON.stringify(problems));
