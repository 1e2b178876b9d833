import type { GatewayStatus } from '../../api/types';

/** An environment's Gateways in one phrase: how many, and whether all serve the published revision. */
export function fleetSummary(gateways: GatewayStatus[]): string {
  if (gateways.length === 0) return 'No Gateway reporting.';
  const count = gateways.length === 1 ? '1 Gateway' : `${gateways.length} Gateways`;
  const behind = gateways.filter((g) => g.sync === 'behind');
  const other = gateways.filter((g) => g.sync !== 'in_sync' && g.sync !== 'behind');
  if (behind.length === 0 && other.length === 0) return `${count}, all in sync.`;
  const parts: string[] = [];
  if (behind.length > 0) parts.push(`${behind.length} behind by up to ${Math.max(...behind.map((g) => g.behind ?? 0))}`);
  if (other.length > 0) parts.push(`${other.length} not comparable (loading or an older publication)`);
  return `${count}: ${parts.join(', ')}.`;
}

/** "4 s ago", "3 min ago": how long since `iso`, against the browser's clock (never negative). */
export function ageOf(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  return minutes < 90 ? `${minutes} min ago` : `${Math.round(minutes / 60)} h ago`;
}

/** The most recent report of any of them; null when none reports. */
export function lastSeenOf(gateways: GatewayStatus[]): string | null {
  return gateways.reduce<string | null>((latest, g) => (latest === null || g.lastSeen > latest ? g.lastSeen : latest), null);
}
