// Client-side routes over the History API. The server answers every navigation with the app,
// so these paths work on reload and as links.

export type Route =
  | { name: 'home' }
  | { name: 'login' }
  | { name: 'forgot-password' }
  | { name: 'verify-email'; token: string }
  | { name: 'reset-password'; token: string }
  | { name: 'register'; secret?: string }
  | { name: 'invite'; token: string }
  | { name: 'room'; kind: 'channel' | 'group' | 'direct'; id: string }
  | { name: 'admin'; section: string }
  | { name: 'call'; callId: string };

export function parseRoute(path: string): Route {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case 'login':
      return { name: 'login' };
    case 'forgot-password':
      return { name: 'forgot-password' };
    // The links of the verification and password reset mails (`<Site_Url>/verify-email/<token>`).
    case 'verify-email':
    case 'reset-password':
      if (parts[1]) return { name: parts[0], token: parts[1] };
      return { name: 'home' };
    case 'register':
      return parts[1] ? { name: 'register', secret: parts[1] } : { name: 'register' };
    case 'invite':
      if (parts[1]) return { name: 'invite', token: parts[1] };
      return { name: 'home' };
    case 'channel':
    case 'group':
    case 'direct':
      if (parts[1]) return { name: 'room', kind: parts[0], id: parts[1] };
      return { name: 'home' };
    case 'admin':
      return { name: 'admin', section: parts[1] ?? 'users' };
    // `video-conference.join` answers `<Site_Url>/call/<callId>` for Comet's own calls.
    case 'call':
      if (parts[1]) return { name: 'call', callId: parts[1] };
      return { name: 'home' };
    default:
      return { name: 'home' };
  }
}

class Router {
  path = $state(location.pathname);
  route = $derived(parseRoute(this.path));

  constructor() {
    window.addEventListener('popstate', () => (this.path = location.pathname));
  }

  go(path: string, replace = false) {
    if (path === this.path) return;
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    this.path = path;
  }
}

export const router = new Router();

/** The path of a room by its type and name (or id for direct messages). */
export function roomPath(t: string, name: string, rid: string): string {
  if (t === 'd') return `/direct/${encodeURIComponent(rid)}`;
  return `/${t === 'p' ? 'group' : 'channel'}/${encodeURIComponent(name)}`;
}
