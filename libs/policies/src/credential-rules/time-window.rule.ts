import type { CredentialAccess } from '@idm/domain';
import type { PolicyRejection } from '../policy';

type TimeRules = NonNullable<CredentialAccess['time']>;

interface LocalTime {
  /** 0 = Monday ... 6 = Sunday. */
  weekday: number;
  /** YYYY-MM-DD. */
  date: string;
  minuteOfDay: number;
}

interface CompiledWindow {
  /** Bit i set: weekday i (Monday = 0); 0 together with no dates: every day. */
  readonly days: number;
  readonly dates: ReadonlySet<string>;
  readonly from: number;
  readonly to: number;
}

const RESTRICTED: PolicyRejection = Object.freeze({ status: 403, code: 'time_restricted', message: 'This credential may not call at this time' });
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/**
 * The Apinizer time-restriction model: ALLOW (only inside a window) or RESTRICT (never inside
 * one), in a time zone, by weekday or date, whole day or an hour range ([from, to)).
 */
export class TimeWindowRule {
  private readonly clock: LocalClock;
  private readonly windows: readonly CompiledWindow[];
  private readonly allowMode: boolean;

  constructor(rules: TimeRules) {
    this.clock = localClock(rules.timeZone);
    this.allowMode = rules.mode === 'allow';
    this.windows = rules.windows.map((w) => ({
      days: w.days.reduce((bits, d) => bits | (1 << WEEKDAYS.indexOf(d)), 0),
      dates: new Set(w.dates),
      from: w.from === undefined ? 0 : toMinutes(w.from),
      to: w.to === undefined ? 24 * 60 : toMinutes(w.to),
    }));
  }

  check(now: number): PolicyRejection | undefined {
    const t = this.clock.at(now);
    const inside = this.windows.some((w) => inWindow(w, t));
    return inside === this.allowMode ? undefined : RESTRICTED;
  }
}

function inWindow(w: CompiledWindow, t: LocalTime): boolean {
  const anyDay = w.days === 0 && w.dates.size === 0;
  const dayMatches = anyDay || (w.days & (1 << t.weekday)) !== 0 || w.dates.has(t.date);
  return dayMatches && t.minuteOfDay >= w.from && t.minuteOfDay < w.to;
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * Wall-clock time in one zone. Intl formatting costs microseconds, so the answer is kept for
 * the current minute (zone offsets only change on minute boundaries); one clock per zone is
 * shared by every credential and revision.
 */
class LocalClock {
  private readonly format: Intl.DateTimeFormat;
  private minute = -1;
  private cached: LocalTime = { weekday: 0, date: '', minuteOfDay: 0 };

  constructor(timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
  }

  at(now: number): LocalTime {
    const minute = Math.floor(now / 60_000);
    if (minute === this.minute) return this.cached;
    const parts: Record<string, string> = {};
    for (const p of this.format.formatToParts(now)) parts[p.type] = p.value;
    this.cached = {
      weekday: WEEKDAYS.indexOf(parts.weekday.toLowerCase().slice(0, 3)),
      date: `${parts.year}-${parts.month}-${parts.day}`,
      minuteOfDay: Number(parts.hour) * 60 + Number(parts.minute),
    };
    this.minute = minute;
    return this.cached;
  }
}

const clocks = new Map<string, LocalClock>();
function localClock(timeZone: string): LocalClock {
  let clock = clocks.get(timeZone);
  if (!clock) clocks.set(timeZone, (clock = new LocalClock(timeZone)));
  return clock;
}
