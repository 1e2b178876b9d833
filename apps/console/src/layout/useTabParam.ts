import { useSearchParams } from 'react-router-dom';

/** The open tab of a screen kept in the URL (`?tab=`), so a tab can be linked, bookmarked and reloaded. */
export function useTabParam<T extends string>(tabs: readonly T[], fallback: T): [T, (tab: string | null) => void] {
  const [params, setParams] = useSearchParams();
  const tab = tabs.find((t) => t === params.get('tab')) ?? fallback;
  return [tab, (next) => setParams(next && next !== fallback ? { tab: next } : {}, { replace: true })];
}
