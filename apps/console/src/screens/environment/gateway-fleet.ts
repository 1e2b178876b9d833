import type { EnvironmentGateways, GatewayStatus } from '../../api/types';

/**
 * A Gateway's sync as the console shows it: the Manager's, or `catching_up` for one the Manager
 * calls behind whose last report may predate the published change (see `withCatchingUp`).
 */
export type FleetSync = GatewayStatus['sync'] | 'catching_up';
export type FleetGateway = Omit<GatewayStatus, 'sync'> & { sync: FleetSync };

/**
 * The published revision as this console first saw it, with each Gateway's report time then. A
 * Gateway reports once per heartbeat, so right after a change its last report may be older than
 * the change: "behind" then is only the report's age. Until it reports again it is catching up.
 */
export interface RevisionSighting {
  revision: number | null;
  reportsThen: Readonly<Record<string, string>>;
}

/** The sighting after a new answer: kept while the published revision stays, a Gateway seen for the first time added with its report. */
export function nextSighting(previous: RevisionSighting | undefined, answer: EnvironmentGateways): RevisionSighting {
  if (previous === undefined || previous.revision !== answer.publishedRevision) {
    return { revision: answer.publishedRevision, reportsThen: Object.fromEntries(answer.gateways.map((g) => [g.id, g.lastSeen])) };
  }
  const newcomers = answer.gateways.filter((g) => !(g.id in previous.reportsThen));
  if (newcomers.length === 0) return previous;
  return { ...previous, reportsThen: { ...previous.reportsThen, ...Object.fromEntries(newcomers.map((g) => [g.id, g.lastSeen])) } };
}

/** The Gateways with `behind` turned into `catching_up` for each that has not reported since the console saw the revision. */
export function withCatchingUp(gateways: GatewayStatus[], sighting: RevisionSighting): FleetGateway[] {
  return gateways.map((g) => (g.sync === 'behind' && sighting.reportsThen[g.id] === g.lastSeen ? { ...g, sync: 'catching_up' } : g));
}

/** An environment's Gateways in one phrase: how many, and whether all serve the published revision. */
export function fleetSummary(gateways: FleetGateway[]): string {
  if (gateways.length === 0) return 'No Gateway reporting.';
  const count = gateways.length === 1 ? '1 Gateway' : `${gateways.length} Gateways`;
  const behind = gateways.filter((g) => g.sync === 'behind');
  const catchingUp = gateways.filter((g) => g.sync === 'catching_up');
  const other = gateways.filter((g) => g.sync !== 'in_sync' && g.sync !== 'behind' && g.sync !== 'catching_up');
  if (behind.length === 0 && catchingUp.length === 0 && other.length === 0) return `${count}, all in sync.`;
  const parts: string[] = [];
  if (behind.length > 0) parts.push(`${behind.length} behind by up to ${Math.max(...behind.map((g) => g.behind ?? 0))}`);
  if (catchingUp.length > 0) parts.push(`${catchingUp.length} catching up with the latest change`);
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
export function lastSeenOf(gateways: FleetGateway[]): string | null {
  return gateways.reduce<string | null>((latest, g) => (latest === null || g.lastSeen > latest ? g.lastSeen : latest), null);
}
